"""Measure how well inspect's label-issue search finds labels flipped on purpose, and what
it costs, for a few cheap models, fold counts, epochs and cleanlab's rules for how many
to list; and how many of the MNIST test labels a published human review found wrong are
near the top of evaluate's ranking.

    python -m benchmarks.label_issues [--prepared data/prepared] [--flip 0.01] [--seed 42]
    python -m benchmarks.label_issues --ranking metrics/evaluate/label_ranking.csv

Flips `--flip` of the training labels (seeded, each to another class drawn uniformly),
then for each setting: cross-validated out-of-sample probabilities
(stages.lib.inspection.label_issues) and, for each of cleanlab's filter_by rules, how
many images find_label_issues lists, the recall of the flipped images and the
precision of the list, with the seconds the probabilities took. With `--ranking`: the
ranks of the 15 MNIST test images whose given label fewer than 3 of 5 reviewers kept
(Northcutt et al. 2021, labelerrors.com; cleanlab/label-errors, mturk/mnist_mturk.json).
Not part of the test suite: the seconds depend on the machine.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib.core.config import load_params
from stages.lib.core.specs import validate_spec
from stages.lib.inspection.label_issues import confident_learning, out_of_sample_probabilities

MLP = {"family": "mlp", "dropout": 0.0, "optimizer": "adam", "learning_rate": 0.001}
CNN = {"family": "cnn", "kernel_size": 3, "dropout": 0.0, "optimizer": "adam", "learning_rate": 0.003}
SETTINGS = [  # (name, model, folds, epochs, batch size)
    ("mlp 256, 4 folds, 3 epochs", {**MLP, "hidden_units": [256]}, 4, 3, 256),
    ("cnn 8-16, 3 folds, 1 epoch", {**CNN, "blocks": [[8], [16]], "dense_units": 32}, 3, 1, 256),
    ("cnn 16-32, 3 folds, 1 epoch", {**CNN, "blocks": [[16], [32]], "dense_units": 64}, 3, 1, 256),
    ("cnn 8-16, 4 folds, 2 epochs", {**CNN, "blocks": [[8], [16]], "dense_units": 32}, 4, 2, 256),
]
RULES = ("prune_by_noise_rate", "prune_by_class", "both")
# MNIST test images whose given label fewer than 3 of 5 Mechanical Turk reviewers kept.
REVIEWED_WRONG = [947, 1621, 1901, 2130, 2462, 2597, 2654, 3520, 3558, 5937, 6651, 6783, 8527, 9679, 9729]


def reviewed_ranks(path: Path) -> None:
    ranking = pd.read_csv(path).set_index("index")
    found = ranking.loc[REVIEWED_WRONG, "rank"].sort_values()
    disputed = int(ranking["disputed"].sum())
    print(f"ranks of the {len(found)} reviewed-wrong test labels: {', '.join(map(str, found.tolist()))}")
    for top in (disputed, 100):
        print(f"  within the top {top}: {(found <= top).sum()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--flip", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--ranking", type=Path, help="evaluate's label_ranking.csv: only rank the reviewed labels"
    )
    args = parser.parse_args()
    if args.ranking:
        return reviewed_ranks(args.ranking)
    data = np.load(args.prepared / "train.npz")
    x, y = data["x"], data["y"].copy()
    classes = int(y.max()) + 1
    rng = np.random.default_rng(args.seed)
    flipped = rng.choice(len(y), round(args.flip * len(y)), replace=False)
    y[flipped] = (y[flipped] + rng.integers(1, classes, len(flipped))) % classes
    truth = set(flipped.tolist())
    print(f"{len(y):,} training images, {len(flipped)} labels flipped (seed {args.seed})", flush=True)
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
            seed=load_params().seed,  # as inspect trains them; --seed draws the flipped labels
        )
        seconds = time.perf_counter() - start
        accuracy = (probabilities.argmax(axis=1) == y).mean()
        print(f"{name}: {seconds:.0f} s, out-of-sample accuracy {accuracy:.4f}", flush=True)
        for rule in RULES:
            listed = set(confident_learning(y, probabilities, rule)["index"].tolist())
            found = len(truth & listed)
            print(
                f"  {rule}: {len(listed)} listed, recall {found / len(truth):.3f}, "
                f"precision {found / max(len(listed), 1):.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
