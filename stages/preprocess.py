"""Stage preprocess: parse the raw IDX files into data/prepared/{train,test}.npz.

Validates magic numbers, counts, shapes and label range; with dataset.transpose, swaps
each image's rows and columns (EMNIST's files store them so); scales pixels to [0, 1]
as float32 (x: images x rows x cols) with integer labels (y). Compressed numpy, no
pickle.
"""

import logging

from stages.lib.core.artifacts import save_arrays
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.paths import PREPARED_DIR, RAW_DIR
from stages.lib.data.idx import load_dataset

log = logging.getLogger(__name__)


def main(args):
    dataset = load_params().dataset
    for part, (x, y) in load_dataset(RAW_DIR, dataset.files, len(dataset.classes), dataset.transpose).items():
        save_arrays(PREPARED_DIR / f"{part}.npz", x=x, y=y)
        log.info("%s: %d images of %dx%d", part, *x.shape)


if __name__ == "__main__":
    run_stage(main, __doc__)
