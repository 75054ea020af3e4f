"""Stage split: divide the training images into the parts each decision uses.

Notebook 000's protocol by default: the last split.validation_size images (a count, or
a fraction of the training images; MNIST: 10,000 of 60,000) validate
(data/split/validation.npz; cv_search scores its trials on them), the others train
(data/split/train.npz, for train_baseline and train_big). Out of those,
split.holdout_size images, split off the same way, are held out (holdout.npz): only
evaluate's choice of `final` between the finalists uses them. The rest (search.npz)
is what cv_search trains its trials on. split.method: stratified draws each part as a
seeded, class-balanced sample instead of taking the last images. Each group of copies
that preprocess found (data/prepared/duplicates.json) then lies wholly in one part, and
the training images inspect.drop names (data/inspect/dropped.json; none by default) are
left out first. The test images are not read here: only evaluate reads them.
"""

import logging

import numpy as np

from stages.lib.core.artifacts import load_arrays, read_json, save_arrays
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.paths import DROPPED, DUPLICATES, PREPARED_DIR, SPLIT_DIR
from stages.lib.data.splitting import partition, training_groups

log = logging.getLogger(__name__)


def main(args):
    params = load_params()
    x, y = load_arrays(PREPARED_DIR / "train.npz", "x", "y")
    dropped = read_json(DROPPED)
    kept = np.setdiff1d(np.arange(len(y)), dropped["index"])
    if dropped["index"]:
        log.info("left out: %d training images (%s)", len(dropped["index"]), ", ".join(dropped["reasons"]))
    x, y = x[kept], y[kept]
    sizes = params.split.sizes(len(y))
    parts = partition(
        y,
        validation_size=sizes["validation"],
        holdout_size=sizes["holdout"],
        method=params.split.method,
        seed=params.seed,
        groups=training_groups(read_json(DUPLICATES)["groups"], kept),
    )
    parts["train"] = np.union1d(parts["search"], parts["holdout"])
    for part, index in parts.items():
        save_arrays(SPLIT_DIR / f"{part}.npz", x=x[index], y=y[index])
        log.info("%s: %d images, per class %s", part, len(index), np.bincount(y[index]).tolist())


if __name__ == "__main__":
    run_stage(main, __doc__)
