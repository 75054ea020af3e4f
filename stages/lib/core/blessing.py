"""Whether `final` may ship: the blessing the export stage requires, as TFX's Evaluator
blesses a model before its Pusher ships it. Two checks on the holdout images (the test
images choose nothing): an absolute floor, release.min_accuracy, and no regression
against the released model, by the rule of every decision (stages.lib.core.decisions):
the released model wins only where it is better beyond the noise. release.force ships
an unblessed model all the same, and the record says so."""

from stages.lib.core.decisions import Candidate, record

NO_RELEASE = "no released model to compare with"


def bless(
    model: Candidate,
    released: Candidate | None,
    *,
    min_accuracy: float,
    significance: float,
    force: bool,
    incomparable: str | None = None,
) -> dict:
    """The blessing of `model` (its right answers on the holdout images) against the
    floor and the `released` model scored on the same images (None: there is none, or
    `incomparable` says why it could not be scored: a check that fails), as JSON-ready
    values: the floor's check, the comparison (a decisions.record, NO_RELEASE or
    `incomparable`), blessed, forced, ships, and the outcome in one sentence."""
    right, images = int(model.right.sum()), len(model.right)
    score = f"{right:,} of {images:,} holdout images right ({right / images:.4f})"
    failures = []
    if right / images < min_accuracy:
        failures.append(f"{score}, under release.min_accuracy {min_accuracy}")
    comparison, against = incomparable or NO_RELEASE, NO_RELEASE
    if incomparable:
        failures.append(incomparable)
    elif released is not None:
        comparison = record(
            model, released, significance=significance, cost="not weighed: a tie keeps the new model"
        )
        only = {name: c["only_right"] for name, c in comparison["candidates"].items()}
        counts = (
            f"{only[released.name]} images only it gets right, {only[model.name]} only {model.name} does, "
            f"McNemar's p = {comparison['p_value']:.2g}"
        )
        if comparison["kept"] == released.name:
            failures.append(f"the released {released.name} is better beyond the noise ({counts})")
        else:
            against = f"the released {released.name} is not better beyond the noise ({counts})"
    if failures:
        outcome = f"{model.name} is not blessed: " + "; ".join(failures)
        outcome += (
            ". Shipped all the same: release.force is true"
            if force
            else ". Improve the model, or set release.force: true to ship it all the same"
        )
    else:
        outcome = f"{model.name} is blessed: {score}, at least release.min_accuracy {min_accuracy}; {against}"
    return {
        "model": model.name,
        "floor": {
            "min_accuracy": min_accuracy,
            "right": right,
            "images": images,
            "passed": right / images >= min_accuracy,
        },
        "released": released.name if released else None,
        "comparison": comparison,
        "blessed": not failures,
        "forced": bool(failures) and force,
        "ships": not failures or force,
        "outcome": outcome,
    }
