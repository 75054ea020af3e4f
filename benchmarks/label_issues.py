"""Measure how well inspect's label-issue search finds labels flipped on purpose, and what
it costs, for a few cheap models, fold counts and epochs.

    python -m benchmarks.label_issues [--prepared data/prepared] [--flip 0.01]   (from the root)

Flips `--flip` of the training labels (seeded, each to another class drawn uniformly),
then for each setting: cross-validated out-of-sample probabilities
(stages.lib.inspection.label_issues) and cleanlab's find_label_issues, printing the
seconds, how many images were listed, the recall of the flipped images and the precision
of the list. Not part of the test suite: the seconds depend on the machine.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from stages.lib.core.specs import validate_spec
from stages.lib.inspection.label_issues import confident_learning, out_of_sample_probabilities

MLP = {"family": "mlp", "dropout": 0.0, "optimizer": "adam", "learning_rate": 0.001}
CNN = {"family": "cnn", "blocks": [[16], [32]], "kernel_size": 3, "dense_units": 64, "dropout": 0.0}
SETTINGS = [  # (name, model, folds, epochs, batch size)
    ("mlp 256, 3 folds, 2 epochs", {**MLP, "hidden_units": [256]}, 3, 2, 256),
    ("mlp 256, 4 folds, 3 epochs", {**MLP, "hidden_units": [256]}, 4, 3, 256),
    ("mlp 256, 5 folds, 5 epochs", {**MLP, "hidden_units": [256]}, 5, 5, 256),
    ("mlp 512x2, 4 folds, 3 epochs", {**MLP, "hidden_units": [512, 512]}, 4, 3, 256),
    ("small cnn, 4 folds, 2 epochs", {**CNN, "optimizer": "adam", "learning_rate": 0.002}, 4, 2, 256),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--flip", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    data = np.load(args.prepared / "train.npz")
    x, y = data["x"], data["y"].copy()
    classes = int(y.max()) + 1
    rng = np.random.default_rng(args.seed)
    flipped = rng.choice(len(y), round(args.flip * len(y)), replace=False)
    y[flipped] = (y[flipped] + rng.integers(1, classes, len(flipped))) % classes
    truth = set(flipped.tolist())
    print(f"{len(y):,} training images, {len(flipped)} labels flipped", flush=True)
    for name, model, folds, epochs, batch_size in SETTINGS:
        start = time.perf_counter()
        probabilities = out_of_sample_probabilities(
            x,
            y,
            classes,
            validate_spec(model, name),
            folds=folds,
            epochs=epochs,
            batch_size=batch_size,
            seed=args.seed,
        )
        issues = confident_learning(y, probabilities)
        seconds = time.perf_counter() - start
        found = len(truth & set(issues["index"].tolist()))
        print(
            f"{name}: {seconds:.0f} s, {len(issues)} listed, recall {found / len(truth):.3f}, "
            f"precision {found / max(len(issues), 1):.3f}, out-of-sample accuracy "
            f"{(probabilities.argmax(axis=1) == y).mean():.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
