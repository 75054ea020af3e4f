"""Which finalist is `final`: chosen by evaluate on the holdout images, recorded for
stages.predict."""

from stages.lib.core.artifacts import read_json
from stages.lib.core.costs import multiply_adds
from stages.lib.core.errors import DataError
from stages.lib.core.intervals import wilson_interval
from stages.lib.core.paths import FINALISTS, METRICS_DIR, best_config_path, training_log_dir
from stages.lib.core.specs import validate_spec

# Where evaluate records which finalist is `final`, and why (stages.predict reads it).
FINAL_CHOICE = METRICS_DIR / "evaluate" / "final.json"


def held_out_accuracy(name: str) -> float:
    """A trained model's last-epoch accuracy on its held-out images (from dvclive)."""
    return read_json(training_log_dir(name) / "metrics.json")["eval"]["accuracy"]


def final_model(holdout_images: int, input_shape: tuple[int, ...], num_classes: int) -> tuple[str, str]:
    """The finalist with the better accuracy on the `holdout_images` holdout images,
    which no search used (never the test set); where the 95% intervals overlap (a tie:
    the difference is noise), the cheaper one, with fewer multiply-adds per image.
    Returns its name and the reason, a sentence."""
    n = holdout_images
    names = [f"{space}_final" for space in FINALISTS]
    accuracy = {name: held_out_accuracy(name) for name in names}
    specs = {
        f"{space}_final": validate_spec(read_json(best_config_path(space)), str(best_config_path(space)))
        for space in FINALISTS
    }
    costs = {name: multiply_adds(spec, input_shape, num_classes) for name, spec in specs.items()}
    best, runner_up = sorted(names, key=lambda name: -accuracy[name])  # stable: the first on an exact tie
    low = wilson_interval(round(accuracy[best] * n), n)[0]
    high = wilson_interval(round(accuracy[runner_up] * n), n)[1]
    numbers = f"{accuracy[best]:.4f} against {accuracy[runner_up]:.4f} on {n:,} holdout images"
    if high < low:
        return (
            best,
            f"Its holdout accuracy is higher beyond the noise ({numbers}; the 95% intervals are apart).",
        )
    cheaper = min(names, key=lambda name: costs[name])
    return cheaper, (
        f"The holdout accuracies are a tie ({numbers}; the 95% intervals overlap), so the cheaper "
        f"model won: {costs[cheaper]:,} multiply-adds per image against {max(costs.values()):,}."
    )


def chosen_final() -> str:
    """The name of the model evaluate chose as `final` (it writes FINAL_CHOICE)."""
    if not FINAL_CHOICE.exists():
        raise DataError(f"{FINAL_CHOICE} not found: run `dvc repro` so that evaluate chooses the final model")
    return read_json(FINAL_CHOICE)["model"]
