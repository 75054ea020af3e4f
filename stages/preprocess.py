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
(y), and for a folder dataset each picture's file (path). Compressed numpy, no pickle.

Copies (exact, or re-encoded, resized, shifted: stages/lib/data/duplicates.py, at
inspect.duplicate_threshold) are found among all the images, within and across parts,
and listed in data/prepared/duplicates.json. With dataset.test_fraction, each group of
copies is then moved wholly to the part that holds most of it, so that none straddles
train and test; given parts (IDX files, train/ and test/ folders) stay as they are.
"""

import logging
import time
from pathlib import Path

import numpy as np

from stages.lib.core.artifacts import save_arrays, write_json
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.paths import DATASET_INFO, DUPLICATES, PREPARED_DIR
from stages.lib.data.decoding import load_pictures
from stages.lib.data.folders import list_pictures
from stages.lib.data.idx import load_dataset
from stages.lib.data.splitting import copies_across

log = logging.getLogger(__name__)


def main(args):
    params = load_params()
    dataset = params.dataset
    if dataset.format == "idx":
        decoded = load_dataset(Path(dataset.path), dataset.files, len(dataset.classes), dataset.transpose)
        parts = {part: {"x": x, "y": y} for part, (x, y) in decoded.items()}
        classes = dataset.classes
        sizing = {"image_size": list(parts["train"]["x"].shape[1:3]), "size_reason": "the IDX files' size"}
    else:
        listing = list_pictures(Path(dataset.path), dataset.classes, dataset.test_fraction, params.seed)
        decoded, sizing = load_pictures(listing, dataset.image_size, dataset.color, dataset.centre)
        parts = {
            part: {"x": x, "y": y, "path": np.array([str(path) for path, _ in listing.parts[part]])}
            for part, (x, y) in decoded.items()
        }
        classes = listing.classes
    started = time.perf_counter()
    movable = dataset.format == "folder" and dataset.test_fraction is not None
    copies, parts = copies_across(parts, params.inspect.duplicate_threshold, movable)
    log.info(
        "copies: %d groups of %d images (%.1f s)%s",
        len(copies),
        sum(len(group["images"]) for group in copies),
        time.perf_counter() - started,
        ", each kept in one part" if movable and copies else "",
    )
    write_json(DUPLICATES, {"threshold": params.inspect.duplicate_threshold, "groups": copies})
    for part, arrays in parts.items():
        save_arrays(PREPARED_DIR / f"{part}.npz", **arrays)
        log.info("%s: %d images of %s", part, len(arrays["x"]), "x".join(map(str, arrays["x"].shape[1:])))
    write_json(
        DATASET_INFO,
        {
            "format": dataset.format,
            "classes": classes,
            **sizing,
            "color": dataset.color,
            "centre": dataset.centre,
            "images": {part: len(arrays["y"]) for part, arrays in parts.items()},
        },
    )


if __name__ == "__main__":
    run_stage(main, __doc__)
