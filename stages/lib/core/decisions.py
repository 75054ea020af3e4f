"""The one rule by which the pipeline chooses between trained models: cv_search's
default against its best challenger (validation images), train_final's duel between
the two trained in full (holdout images) and evaluate's `final` between the finalists
(holdout images). McNemar's exact test on the images one model gets right and the other
wrong says whether they differ beyond the noise at `significance`; if they do, the
better one is kept, else the cheaper to train, the first named on equal cost.

Where both models are trained in full (the duel, `final`), their average is a third
candidate, whose training is already paid and whose inference runs both. After a tie
it is kept unless the model kept is better than it beyond the noise: of two models the
images cannot tell apart, neither is thrown away. After a win it replaces the winner
only if better than it beyond the noise: a model known to be worse is averaged in only
where that shows. (benchmarks/tie_rules.py measured this against keeping the average
unless beaten, after a win too: within the noise, and this rule is the cheaper.)

Counts of images decide, never two rounded accuracies or two intervals that overlap,
so a difference beyond the noise gives the same decision on any machine. Each decision
records the smallest difference it could have seen (stages.lib.core.power). Each
decision is recorded as `record()` returns it, and `sentence()` says it in one sentence.
"""

from dataclasses import dataclass

import numpy as np
from scipy import stats

from stages.lib.core.power import power_record, power_sentence


@dataclass(frozen=True)
class Candidate:
    """A trained model in a decision: its name, which of the scoring images it gets
    right, and its estimated training cost (the record names the cost's unit)."""

    name: str
    right: np.ndarray  # bool per image
    cost: float


def record(
    first: Candidate, second: Candidate, *, significance: float, cost: str, ensemble: Candidate | None = None
) -> dict:
    """Keep `second` over `first` only if it is better beyond the noise, or within the
    noise and cheaper; with `ensemble` (the two averaged, both trained in full), that
    average after a tie unless the model kept is better than it beyond the noise, after
    a win only if it is better than the winner beyond the noise. Returns the decision as JSON-ready
    values: the number of images, per candidate its count right and accuracy, the
    images only it gets right (of the pair), its cost and whether it is kept;
    McNemar's exact p-value, the significance, the smallest difference the test could
    have seen (`power`), what `cost` measures (e.g. "estimated seconds of train_final
    on the reference machine"), the kept name and the outcome; with an ensemble, its
    comparison under "ensemble"."""
    first_only, second_only, p_value = mcnemar(first, second)
    if p_value < significance:
        kept = second if second_only > first_only else first
        outcome = f"{kept.name} is better beyond the noise"
    elif second.cost < first.cost:
        kept, outcome = second, f"a tie, so the cheaper {second.name} is kept"
    else:
        kept = first
        outcome = f"a tie, so {first.name} stays" + (" (equal cost)" if first.cost == second.cost else "")
    decision = {
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
        "power": power_record(len(first.right), first_only + second_only, significance),
        "cost": cost,
        "kept": kept.name,
        "outcome": outcome,
    }
    return decision if ensemble is None else _with_ensemble(decision, kept, ensemble, significance)


def mcnemar(first: Candidate, second: Candidate) -> tuple[int, int, float]:
    """The images only `first` gets right, only `second` gets right, and McNemar's exact
    two-sided p-value (1 with no discordant image)."""
    if first.right.shape != second.right.shape or first.right.ndim != 1:
        raise ValueError(
            f"{first.name} and {second.name} must be scored on the same images, got "
            f"{first.right.shape} and {second.right.shape}"
        )
    first_only = int((first.right & ~second.right).sum())
    second_only = int((second.right & ~first.right).sum())
    discordant = first_only + second_only
    return (
        first_only,
        second_only,
        float(stats.binomtest(second_only, discordant, 0.5).pvalue) if discordant else 1.0,
    )


def _with_ensemble(decision: dict, kept: Candidate, ensemble: Candidate, significance: float) -> dict:
    kept_only, ensemble_only, p_value = mcnemar(kept, ensemble)
    beyond = p_value < significance
    if decision["p_value"] >= significance:  # a tie: the average unless the kept one beats it
        chosen = not (beyond and kept_only > ensemble_only)
        why = f"{kept.name} is {'not ' if chosen else ''}better than their average"
    else:  # a win: the average only if it beats the winner
        chosen = beyond and ensemble_only > kept_only
        why = f"their average is {'' if chosen else 'not '}better than {kept.name}"
    outcome = f"{decision['outcome']}; {why} beyond the noise, so " + (
        "both are kept, averaged" if chosen else "it stays"
    )
    for entry in decision["candidates"].values():
        entry["kept"] = entry["kept"] and not chosen
    decision["candidates"][ensemble.name] = {
        "right": int(ensemble.right.sum()),
        "accuracy": float(ensemble.right.mean()),
        "cost": ensemble.cost,
        "kept": chosen,
        "members": list(decision["candidates"]),
    }
    decision["ensemble"] = {
        "name": ensemble.name,
        "compared_with": kept.name,
        "only_right": {kept.name: kept_only, ensemble.name: ensemble_only},
        "p_value": p_value,
        "power": power_record(len(kept.right), kept_only + ensemble_only, significance),
        "inference": "runs both members on every image",
    }
    decision["kept"] = ensemble.name if chosen else kept.name
    decision["outcome"] = outcome
    return decision


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
    """A recorded decision in words, with what it could have seen; `images` names what
    was scored (e.g. "holdout images")."""
    (first, a), (second, b), *_ = decision["candidates"].items()
    said = (
        f"On the {decision['images']:,} {images}, {first} got {a['right']:,} right ({a['accuracy']:.4f}) "
        f"and {second} {b['right']:,} ({b['accuracy']:.4f}); {a['only_right']} only {first} got right and "
        f"{b['only_right']} only {second} (McNemar's exact test: p = {decision['p_value']:.2g}, "
        f"significance {decision['significance']:g}; cost: {decision['cost']}, {a['cost']:,.4g} against "
        f"{b['cost']:,.4g})"
    )
    if "ensemble" not in decision:
        return f"{said}: {decision['outcome']}. {power_sentence(decision['images'], decision['power'])}"
    ensemble = decision["ensemble"]
    name, compared = ensemble["name"], ensemble["compared_with"]
    averaged = decision["candidates"][name]
    return (
        f"{said}. {power_sentence(decision['images'], decision['power'])} Their average, {name}, got "
        f"{averaged['right']:,} right ({averaged['accuracy']:.4f}); {ensemble['only_right'][name]} only it "
        f"and {ensemble['only_right'][compared]} only {compared} (p = {ensemble['p_value']:.2g}). "
        f"{power_sentence(decision['images'], ensemble['power'])} Outcome: {decision['outcome']} "
        f"({decision['kept']} is kept)."
    )
