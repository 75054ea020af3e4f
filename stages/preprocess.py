"""Stage preprocess: decode the dataset into data/prepared/{train,test}.npz, and describe
it in data/prepared/dataset.json (its class names in label order, image size, colour,
how the size was chosen, and how a user's picture is to be prepared for `predict`).

- format idx: validates the IDX files' magic numbers, counts, shapes and label range;
  with dataset.transpose, swaps each image's rows and columns (EMNIST's files store them
  so).
- format folder: every picture of the class folders (stages/lib/data/folders.py), one at
  a time, brought to one size (dataset.image_size) in grayscale or RGB (dataset.color),
  with a progress line every few seconds.
Pixels are float32 in [0, 1] (x: images x rows x cols, x 3 for RGB), labels integers
(y). Compressed numpy, no pickle.
"""

import logging
from pathlib import Path

from stages.lib.core.artifacts import save_arrays, write_json
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.paths import DATASET_INFO, PREPARED_DIR
from stages.lib.data.decoding import load_pictures
from stages.lib.data.folders import list_pictures
from stages.lib.data.idx import load_dataset

log = logging.getLogger(__name__)


def main(args):
    params = load_params()
    dataset = params.dataset
    if dataset.format == "idx":
        parts = load_dataset(Path(dataset.path), dataset.files, len(dataset.classes), dataset.transpose)
        classes = dataset.classes
        sizing = {"image_size": list(parts["train"][0].shape[1:3]), "size_reason": "the IDX files' size"}
    else:
        listing = list_pictures(Path(dataset.path), dataset.classes, dataset.test_fraction, params.seed)
        parts, sizing = load_pictures(listing, dataset.image_size, dataset.color, dataset.centre)
        classes = listing.classes
    for part, (x, y) in parts.items():
        save_arrays(PREPARED_DIR / f"{part}.npz", x=x, y=y)
        log.info("%s: %d images of %s", part, len(x), "x".join(map(str, x.shape[1:])))
    write_json(
        DATASET_INFO,
        {
            "format": dataset.format,
            "classes": classes,
            **sizing,
            "color": dataset.color,
            "centre": dataset.centre,
            "images": {part: len(y) for part, (_, y) in parts.items()},
        },
    )


if __name__ == "__main__":
    run_stage(main, __doc__)
