"""Stage split: divide the training images into data/split/{train,validation}.npz.

Notebook 000's protocol by default: the first 50,000 images train, the last 10,000
validate (split.method: last); split.method: stratified draws a seeded, class-balanced
validation set instead. The test images are not read here: only evaluate reads them.
"""

import logging

import numpy as np

from stages.lib.artifacts import load_arrays, save_arrays
from stages.lib.cli import run_stage
from stages.lib.params import load_params, seed
from stages.lib.paths import PREPARED_DIR, SPLIT_DIR
from stages.lib.splitting import split_indices, split_params

log = logging.getLogger(__name__)


def main(args):
    params = load_params()
    settings = split_params(params)
    x, y = load_arrays(PREPARED_DIR / "train.npz", "x", "y")
    parts = dict(zip(("train", "validation"), split_indices(y, **settings, seed=seed(params))))
    for part, index in parts.items():
        save_arrays(SPLIT_DIR / f"{part}.npz", x=x[index], y=y[index])
        log.info("%s: %d images, per class %s", part, len(index), np.bincount(y[index]).tolist())


if __name__ == "__main__":
    run_stage(main, __doc__)
