"""The evaluation report: Markdown with PNG figures that completes notebook 000's
workflow from one run's own outputs (no figure in it comes from anywhere else)."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib.core.artifacts import write_text
from stages.lib.core.config import Params
from stages.lib.core.intervals import wilson_interval
from stages.lib.report.curves import overfitting
from stages.lib.report.evaluation import CALIBRATION_BINS, calibration, most_confident_mistakes, most_confused
from stages.lib.report.figures import (
    plot_confusion,
    plot_gallery,
    plot_learning_curves,
    plot_reliability,
)
from stages.lib.report.protocol import ensemble_lines, held_out_choices, preparation
from stages.lib.report.search_section import plot_study, search_section
from stages.lib.report.tables import interval, table


@dataclass
class Run:
    """What the report is written from: one run's params and outputs, and the test
    set's labels, images and each model's predicted probabilities."""

    params: Params
    dataset: str  # its name
    dataset_info: dict  # preprocess's data/prepared/dataset.json
    split_sizes: dict[str, int]  # the validation, holdout and search parts' sizes
    x: np.ndarray
    y: np.ndarray
    probabilities: dict[str, np.ndarray]  # random_guess, the trained models and final
    summaries: dict[str, dict]  # test metrics, same keys
    final_choice: dict  # evaluate's decision of `final` between the finalists (decisions.record)
    duels: dict[str, dict]  # per search space: train_final's duel.json
    held_out_accuracy: dict[str, float]  # per trained model
    held_out_images: dict[str, int]  # how many images each held-out accuracy is on
    member_accuracy: dict[str, dict[str, float]]  # test, of a finalist's two averaged models
    per_class: pd.DataFrame  # per_class() rows of every trained model, with a model column
    confusion: pd.DataFrame  # the final model's
    learning_curves: dict[str, pd.DataFrame]  # per trained model, from curves.learning_curves()
    search_results: dict[str, pd.DataFrame]  # per search space: cv_search's results.csv
    search_summaries: dict[str, dict]  # and its metrics.json
    best_configs: dict[str, dict]  # per search space: the winning model spec
    studies: dict  # per search space: its Optuna study
    data_section: list[str]  # data_section.data_section's Markdown, and disputed_section's:
    disputed_section: list[str]

    @property
    def classes(self) -> list[str]:
        """The name of each label."""
        return self.dataset_info["classes"]

    @property
    def final(self) -> str:
        """The name of the final model."""
        return self.final_choice["kept"]


def write_report(out_dir: Path, run: Run) -> None:
    """Write out_dir/report.md and its figures in out_dir/figures/."""
    figures = out_dir / "figures"
    y, probabilities, summaries, final = run.y, run.probabilities, run.summaries, run.final
    models = list(run.learning_curves)
    plot_learning_curves(run.learning_curves, figures / "learning_curves.png")
    study_figures = {space: plot_study(study, figures, space) for space, study in run.studies.items()}
    plot_confusion(run.confusion, f"Confusion matrix, {final}, test set", figures / "confusion.png")
    mistakes = most_confident_mistakes(y, probabilities[final])
    if len(mistakes):
        plot_gallery(
            run.x[mistakes],
            y[mistakes],
            probabilities[final][mistakes],
            run.classes,
            figures / "misclassified.png",
        )
    calibrations = {name: calibration(y, probabilities[name]) for name in models}
    eces = {name: ece for name, (ece, _) in calibrations.items()}
    plot_reliability({name: t for name, (_, t) in calibrations.items()}, eces, figures / "reliability.png")

    accuracy = {name: summaries[name]["accuracy"] for name in summaries}
    errors = int((probabilities[final].argmax(axis=1) != y).sum())
    summary_table = pd.DataFrame(summaries).T.rename_axis("model").reset_index()
    held_out = {**run.held_out_accuracy, "final": run.held_out_accuracy[final]}
    held_out_images = {**run.held_out_images, "final": run.held_out_images[final]}
    summary_table.insert(1, "held-out accuracy", summary_table["model"].map(held_out))
    summary_table.insert(
        2,
        "held-out 95% interval",
        [
            interval(*wilson_interval(round(held_out[name] * held_out_images[name]), held_out_images[name]))
            if name in held_out
            else ""
            for name in summary_table["model"]
        ],
    )
    summary_table.insert(
        4,
        "test 95% interval",
        [
            interval(*wilson_interval(round(summaries[name]["accuracy"] * len(y)), len(y)))
            for name in summary_table["model"]
        ],
    )
    final_classes = run.per_class.query("model == @final").drop(columns="model")
    f1_by_model = run.per_class.pivot(index="class", columns="model", values="f1").loc[run.classes, models]
    p, sizes, info = run.params, run.split_sizes, run.dataset_info
    height, width = run.x.shape[1:3]

    lines = [
        f"# {run.dataset}: the evaluation report",
        "",
        "Written by `evaluate` from this run's own outputs; every figure below was measured in it.",
        "",
        "## Problem and protocol",
        "",
        f"Classify {run.dataset}'s {height}x{width} {info['color']} images into {len(run.classes)} classes "
        f"({', '.join(run.classes)}). {preparation(info)} `split` divides the "
        f"{sum(sizes.values()):,} training images into three disjoint parts (method `{p.split.method}`): "
        f"{sizes['validation']:,} validation images, {sizes['holdout']:,} holdout images and the rest "
        f"({sizes['search']:,}), the search images. What each step trained and chose on:",
        "",
        f"- `train_baseline` ({p.train_baseline.epochs} epochs) and `train_big` "
        f"({p.train_big.epochs} epochs) train on the search and holdout images and report their "
        "validation accuracy (notebook 000's protocol); nothing is chosen on them.",
        f"- `cv_search` chose one configuration per model family ({', '.join(run.search_results)}) training "
        "on search images and scoring on validation images (below).",
        *held_out_choices(run.duels, run.final_choice, p.significance, len(y)),
        "",
        *ensemble_lines(run.duels, run.final_choice, accuracy, run.member_accuracy),
        *run.data_section,
        "## Baseline against a random guess",
        "",
        f"A uniform random guess scores {accuracy['random_guess']:.4f} on the test set; the baseline "
        f"(notebook 000's small network) scores {accuracy['baseline']:.4f}, so the data carries signal a "
        "small model learns.",
        "",
        "## The model that overfits",
        "",
        overfitting(run.learning_curves["big"]),
        "",
        *search_section(
            run.search_results, run.search_summaries, run.best_configs, p, sizes, study_figures, run.duels
        ),
        "## Test metrics",
        "",
        table(summary_table),
        "",
        "`held-out accuracy` is the last epoch's accuracy on images each model did not train on (baseline "
        "and big: the validation images; the finalists: the holdout images); `final` was chosen on the "
        "holdout images, not on the test set.",
        "",
        f"## Per class, final model ({final})",
        "",
        table(final_classes),
        "",
        "F1 per class, every model:",
        "",
        table(f1_by_model, index=True),
        "",
        "## Confusion matrix",
        "",
        "![Confusion matrix](figures/confusion.png)",
        "",
        "Most confused pairs (true class predicted as another):",
        "",
        table(most_confused(run.confusion)),
        "",
        "## Misclassified test images",
        "",
        f"The final model misclassifies {errors} of {len(y):,} test images; the {len(mistakes)} it was most "
        "confident about, with its probability for its answer and for the true class:",
        "",
        "![Misclassified images](figures/misclassified.png)" if len(mistakes) else "(none)",
        "",
        *run.disputed_section,
        "## Calibration",
        "",
        table(
            pd.DataFrame(
                {
                    "model": list(eces),
                    f"expected calibration error ({CALIBRATION_BINS} bins)": list(eces.values()),
                }
            )
        ),
        "",
        "![Reliability diagram](figures/reliability.png)",
        "",
        "## Learning curves",
        "",
        "![Learning curves](figures/learning_curves.png)",
        "",
    ]
    write_text(out_dir / "report.md", "\n".join(lines))
