"""How well each way of settling a decision between two models trained in full does on
images it did not decide on (issue 37; docs/measurements.md, "Ensembles, power and
recipes").

    python benchmarks/tie_rules.py DIR [DIR ...]

Each DIR holds NAME.npz files of one dataset's holdout probabilities (`p`, and the
labels `y`), as benchmarks/recipes.py writes them. For every ordered pair of models (the
first one the cheaper, so it stays on a tie) and their average, the holdout images are
cut in two halves at random, 20 times; each rule decides on one half and the model it
keeps is scored on the other, both ways. The rules:

- pair: the pair alone, as before issue 37 (better beyond the noise, else the first);
- after-tie: after a tie the average unless the model kept beats it beyond the noise;
  after a win the average only if it beats the winner beyond the noise (the pipeline's
  rule, stages/lib/core/decisions.py);
- unless-beaten: the average unless the model the pair's rule keeps beats it beyond the
  noise, after a tie or a win;
- always: the average.

It prints each pair's counts and the mean errors per decision on the other half.
"""

import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stages.lib.core.decisions import Candidate, mcnemar  # noqa: E402

SIGNIFICANCE = 0.05
RULES = ("pair", "after-tie", "unless-beaten", "always")


def beyond(first: np.ndarray, second: np.ndarray) -> str | None:
    """Which of two (bool per image) is better beyond the noise: 'first', 'second' or None."""
    only_first, only_second, p_value = mcnemar(Candidate("a", first, 0), Candidate("b", second, 0))
    if p_value >= SIGNIFICANCE:
        return None
    return "second" if only_second > only_first else "first"


def keep(rule: str, first: np.ndarray, second: np.ndarray, average: np.ndarray) -> str:
    """What `rule` keeps, scored on these images: 'first', 'second' or 'average'."""
    winner = beyond(first, second)
    kept = winner or "first"
    against_average = beyond(second if kept == "second" else first, average)
    chooses_average = {
        "pair": False,
        "after-tie": against_average != "first" if winner is None else against_average == "second",
        "unless-beaten": against_average != "first",
        "always": True,
    }[rule]
    return "average" if chooses_average else kept


def main(folders: list[str]) -> None:
    rng = np.random.default_rng(0)
    for folder in folders:
        files = {path.stem: np.load(path) for path in sorted(Path(folder).glob("*.npz"))}
        y = next(iter(files.values()))["y"]
        right = {name: data["p"].argmax(axis=1) == y for name, data in files.items()}
        counts = ", ".join(f"{name} {r.sum():,}" for name, r in right.items())
        print(f"{folder}: {len(y):,} holdout images; right: {counts}")
        errors, decisions = dict.fromkeys(RULES, 0), 0
        for a, b in itertools.permutations(files, 2):
            scored = {"first": right[a], "second": right[b]}
            scored["average"] = (files[a]["p"] + files[b]["p"]).argmax(axis=1) == y
            if a < b:
                print(f"  {a} + {b} averaged: {scored['average'].sum():,}")
            for _ in range(20):
                order = rng.permutation(len(y))
                halves = order[: len(y) // 2], order[len(y) // 2 :]
                for decide, score in (halves, halves[::-1]):
                    for rule in RULES:
                        kept = keep(rule, *(scored[k][decide] for k in ("first", "second", "average")))
                        errors[rule] += int((~scored[kept][score]).sum())
                    decisions += 1
        means = ", ".join(f"{rule} {errors[rule] / decisions:.2f}" for rule in RULES)
        print(f"  mean errors on the other half, per decision: {means}")


if __name__ == "__main__":
    main(sys.argv[1:])
