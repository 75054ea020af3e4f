"""The one rule by which the pipeline chooses between two trained models: cv_search's
default against its best challenger (validation images), train_final's duel between
the two trained in full (holdout images) and evaluate's `final` between the finalists
(holdout images). McNemar's exact test on the images one model gets right and the other
wrong says whether they differ beyond the noise at `significance`; if they do, the
better one is kept, else the cheaper to train, the first named on equal cost.

Counts of images decide, never two rounded accuracies or two intervals that overlap,
so a difference beyond the noise gives the same decision on any machine. Each decision
is recorded as `record()` returns it, and `sentence()` says it in one sentence.
"""

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Candidate:
    """A trained model in a decision: its name, which of the scoring images it gets
    right, and its estimated training cost (the record names the cost's unit)."""

    name: str
    right: np.ndarray  # bool per image
    cost: float


def record(first: Candidate, second: Candidate, *, significance: float, cost: str) -> dict:
    """Keep `second` over `first` only if it is better beyond the noise, or within the
    noise and cheaper. Returns the decision as JSON-ready values: the number of images,
    per candidate its count right and accuracy, the images only it gets right, its cost
    and whether it is kept; McNemar's exact p-value, the significance, what `cost`
    measures (e.g. "estimated seconds of train_final on the reference machine"), the
    kept name and the outcome."""
    if first.right.shape != second.right.shape or first.right.ndim != 1:
        raise ValueError(
            f"{first.name} and {second.name} must be scored on the same images, got "
            f"{first.right.shape} and {second.right.shape}"
        )
    first_only = int((first.right & ~second.right).sum())
    second_only = int((second.right & ~first.right).sum())
    discordant = first_only + second_only
    p_value = float(stats.binomtest(second_only, discordant, 0.5).pvalue) if discordant else 1.0
    if p_value < significance:
        kept = second if second_only > first_only else first
        outcome = f"{kept.name} is better beyond the noise"
    elif second.cost < first.cost:
        kept, outcome = second, f"a tie, so the cheaper {second.name} is kept"
    else:
        kept = first
        outcome = f"a tie, so {first.name} stays" + (" (equal cost)" if first.cost == second.cost else "")
    return {
        "images": len(first.right),
        "candidates": {
            candidate.name: {
                "right": int(candidate.right.sum()),
                "accuracy": float(candidate.right.mean()),
                "only_right": only,
                "cost": candidate.cost,
                "kept": candidate is kept,
            }
            for candidate, only in ((first, first_only), (second, second_only))
        },
        "test": "McNemar's exact test",
        "p_value": p_value,
        "significance": significance,
        "cost": cost,
        "kept": kept.name,
        "outcome": outcome,
    }


def alone(candidate: Candidate, *, cost: str, outcome: str) -> dict:
    """A model kept with nobody to compare it with, recorded as record() records a
    decision (its one candidate without a discordant count), `outcome` saying why."""
    return {
        "images": len(candidate.right),
        "candidates": {
            candidate.name: {
                "right": int(candidate.right.sum()),
                "accuracy": float(candidate.right.mean()),
                "cost": candidate.cost,
                "kept": True,
            }
        },
        "cost": cost,
        "kept": candidate.name,
        "outcome": outcome,
    }


def sentence(decision: dict, images: str) -> str:
    """A recorded decision in one sentence; `images` names what was scored (e.g.
    "holdout images")."""
    (first, a), (second, b) = decision["candidates"].items()
    return (
        f"On the {decision['images']:,} {images}, {first} got {a['right']:,} right ({a['accuracy']:.4f}) "
        f"and {second} {b['right']:,} ({b['accuracy']:.4f}); {a['only_right']} only {first} got right and "
        f"{b['only_right']} only {second} (McNemar's exact test: p = {decision['p_value']:.2g}, "
        f"significance {decision['significance']:g}; cost: {decision['cost']}, {a['cost']:,.4g} against "
        f"{b['cost']:,.4g}): {decision['outcome']}."
    )
