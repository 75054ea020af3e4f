"""Stage inspect: look at the data before any model is chosen on it (docs/data.md).

Reads data/prepared/ (train and test images, and the copies preprocess found) and writes
metrics/inspect/summary.json (the counts, for `dvc metrics diff`) and, in
metrics/inspect/lists/, one CSV per check, each image named by its part, its index in
that part's file and, for a folder dataset, its file:
- class_balance.csv: images per class in each part (and the largest-to-smallest ratio
  in the summary);
- odd_pictures.csv: blank pictures, and those far darker, lighter, flatter or emptier
  than the rest (stages/lib/inspection/checks.py);
- duplicates.csv: each group of copies, exact or near, within and across the parts; a
  group whose copies carry different labels counts as a label problem too;
- label_issues.csv: training images whose label a small CNN disputes, from
  out-of-sample probabilities over inspect.label_issues.folds folds and cleanlab's
  find_label_issues (inspect.label_issues.filter_by), most doubtful first, with the
  suggested class; then the images of any group of copies with different labels.
Also data/inspect/dropped.json: the training images split leaves out (inspect.drop;
none by default, so that changing a label-issue param reruns no later stage).
"""

import logging
import time

import pandas as pd

from stages.lib.core.artifacts import load_parts, read_json, write_csv, write_json
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.paths import DATASET_INFO, DROPPED, DUPLICATES, INSPECT_DIR, PREPARED_DIR
from stages.lib.inspection.checks import class_balance, imbalance, odd_pictures, picture_measures
from stages.lib.inspection.label_issues import confident_learning, out_of_sample_probabilities
from stages.lib.inspection.listing import (
    conflicting_copies,
    dropped_images,
    duplicate_rows,
    named,
)

log = logging.getLogger(__name__)
LISTS = INSPECT_DIR / "lists"


def main(args):
    params = load_params()
    settings, classes = params.inspect.label_issues, read_json(DATASET_INFO)["classes"]
    parts = load_parts(PREPARED_DIR)
    started = time.perf_counter()

    balance = class_balance({part: arrays["y"] for part, arrays in parts.items()}, classes)
    odd = pd.concat(
        [named(odd_pictures(picture_measures(arrays["x"])), part, arrays) for part, arrays in parts.items()]
    )
    duplicates = duplicate_rows(read_json(DUPLICATES)["groups"], parts, classes)
    checked = time.perf_counter()

    x, y = parts["train"]["x"], parts["train"]["y"]
    probabilities = out_of_sample_probabilities(
        x,
        y,
        len(classes),
        settings.model,
        folds=settings.folds,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        seed=params.seed,
    )
    disputed = named(
        confident_learning(y, probabilities, settings.filter_by).set_index("index"),
        "train",
        parts["train"],
        classes,
    )
    issues = pd.concat(
        [disputed.assign(reason="the cross-validated model disputes it"), conflicting_copies(duplicates)]
    )
    labelled = time.perf_counter()

    write_csv(LISTS / "class_balance.csv", balance, index=True)
    write_csv(LISTS / "odd_pictures.csv", odd)
    write_csv(LISTS / "duplicates.csv", duplicates)
    write_csv(LISTS / "label_issues.csv", issues)
    dropped = dropped_images(params.inspect.drop, issues[issues["part"] == "train"], duplicates)
    write_json(DROPPED, {"reasons": params.inspect.drop, "index": dropped})
    groups = duplicates.drop_duplicates("group")
    write_json(
        INSPECT_DIR / "summary.json",
        {
            "images": {part: len(arrays["y"]) for part, arrays in parts.items()},
            "class_imbalance": {part: imbalance(balance[part]) for part in parts},
            "odd_pictures": {part: int((odd["part"] == part).sum()) for part in parts},
            "duplicate_groups": {
                "exact": int((groups["kind"] == "exact").sum()),
                "near": int((groups["kind"] == "near").sum()),
                "across_train_and_test": int(groups["across"].sum()),
                "with_different_labels": int(groups["different_labels"].sum()),
            },
            "label_issues": len(disputed),
            "cross_validated_accuracy": float((probabilities.argmax(axis=1) == y).mean()),
            "dropped": len(dropped),
        },
    )
    log.info(
        "inspect took %.1f s: balance, odd pictures and copies %.1f s, label issues %.1f s "
        "(%d folds of %d epochs); found %d odd pictures, %d groups of copies, %d label issues",
        labelled - started,
        checked - started,
        labelled - checked,
        settings.folds,
        settings.epochs,
        len(odd),
        len(groups),
        len(disputed),
    )


if __name__ == "__main__":
    run_stage(main, __doc__)
