"""Whether `final` may ship: the blessing the export stage requires, as TFX's Evaluator
blesses a model before its Pusher ships it. Two checks on the holdout images (the test
images choose nothing): an absolute floor, release.min_accuracy, and no regression
against the released model, by the rule of every decision (stages.lib.core.decisions):
the released model wins only where it is better beyond the noise. release.force ships
an unblessed model all the same, and the record says so."""

from stages.lib.core.decisions import Candidate, record

NO_RELEASE = "no released model to compare with"


def compare(model: Candidate, released: Candidate, significance: float) -> dict:
    """The decision between `model` and the `released` one, scored on the same images:
    the released one is kept only where it is better beyond the noise (equal costs)."""
    return record(model, released, significance=significance, cost="not weighed: a tie keeps the new model")


def bless(
    name: str, right: int, images: int, comparison: dict | str, *, min_accuracy: float, force: bool
) -> dict:
    """The blessing of the model `name`, which gets `right` of `images` holdout images
    right, against the floor and `comparison`: compare()'s record, NO_RELEASE, or why
    the released model could not be compared (a check that fails). As JSON-ready
    values: the floor's check, the comparison, blessed, forced, ships, and the outcome
    in one sentence."""
    score = f"{right:,} of {images:,} holdout images right ({right / images:.4f})"
    passed = right / images >= min_accuracy
    failures = [] if passed else [f"{score}, under release.min_accuracy {min_accuracy}"]
    released, against = None, comparison
    if isinstance(comparison, dict):
        [released] = [candidate for candidate in comparison["candidates"] if candidate != name]
        only = {candidate: c["only_right"] for candidate, c in comparison["candidates"].items()}
        counts = (
            f"{only[released]} images only it gets right, {only[name]} only {name} does, "
            f"McNemar's p = {comparison['p_value']:.2g}"
        )
        verdict = "is better" if comparison["kept"] == released else "is not better"
        against = f"the released {released} {verdict} beyond the noise ({counts})"
        if comparison["kept"] == released:
            failures.append(against)
    elif comparison != NO_RELEASE:
        failures.append(comparison)
    if failures:
        outcome = f"{name} is not blessed: " + "; ".join(failures)
        outcome += (
            ". Shipped all the same: release.force is true"
            if force
            else ". Improve the model, or set release.force: true to ship it all the same"
        )
    else:
        outcome = f"{name} is blessed: {score}, at least release.min_accuracy {min_accuracy}; {against}"
    return {
        "model": name,
        "floor": {"min_accuracy": min_accuracy, "right": right, "images": images, "passed": passed},
        "released": released,
        "comparison": comparison,
        "blessed": not failures,
        "forced": bool(failures) and force,
        "ships": not failures or force,
        "outcome": outcome,
    }
