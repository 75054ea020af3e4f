"""The evaluation report: Markdown with PNG figures that completes notebook 000's
workflow from one run's own outputs (no figure in it comes from anywhere else)."""

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on CI machines or servers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from stages.lib.artifacts import atomic_path, write_text  # noqa: E402
from stages.lib.intervals import wilson_interval  # noqa: E402

CURVES = ("accuracy", "loss")
CALIBRATION_BINS = 15


@dataclass
class Run:
    """What the report is written from: one run's params and outputs, and the test
    set's labels, images and each model's predicted probabilities."""
    params: dict
    dataset: str  # its name
    classes: list[str]  # the name of each label
    x: np.ndarray
    y: np.ndarray
    probabilities: dict[str, np.ndarray]  # random_guess, the trained models and final
    summaries: dict[str, dict]  # test metrics, same keys
    final: str  # the name of the final model
    final_reason: str  # why: a sentence
    held_out_accuracy: dict[str, float]  # per trained model
    held_out_images: dict[str, int]  # how many images each held-out accuracy is on
    per_class: pd.DataFrame  # per_class() rows of every trained model, with a model column
    confusion: pd.DataFrame  # the final model's
    learning_curves: dict[str, pd.DataFrame]  # per trained model, from learning_curves()
    search_results: dict[str, pd.DataFrame]  # per search space: cv_search's results.csv
    best_configs: dict[str, dict]  # per search space: the winning model spec
    studies: dict  # per search space: its Optuna study


def learning_curves(dvclive_dir: str | Path) -> pd.DataFrame:
    """One row per epoch (1-based): training and held-out accuracy and loss, read from a
    training stage's dvclive plots folder."""
    dvclive_dir = Path(dvclive_dir) / "metrics"
    columns = {
        f"{split}_{metric}": pd.read_csv(dvclive_dir / folder / f"{metric}.tsv", sep="\t")[metric]
        for split, folder in (("train", "train"), ("held_out", "eval")) for metric in CURVES
    }
    frame = pd.DataFrame(columns)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame


def calibration(y_true: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> tuple[float, pd.DataFrame]:
    """Expected calibration error and the reliability table behind it: predictions
    grouped by confidence (the top probability) into equal-width bins; ECE is the
    count-weighted mean gap between each bin's accuracy and its mean confidence."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    table = pd.DataFrame({"bin": which, "confidence": confidence, "correct": correct}).groupby("bin").agg(
        count=("correct", "size"), confidence=("confidence", "mean"), accuracy=("correct", "mean"))
    table.insert(0, "upper", edges[table.index + 1])
    table.insert(0, "lower", edges[table.index])
    ece = float((table["count"] * (table["accuracy"] - table["confidence"]).abs()).sum() / len(y_true))
    return ece, table.reset_index(drop=True)


def most_confused(confusion: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The largest off-diagonal cells of a confusion matrix (true classes as rows)."""
    pairs = confusion.stack().rename("count").reset_index()
    pairs = pairs[(pairs["true"] != pairs["predicted"]) & (pairs["count"] > 0)]
    pairs["share of true class"] = pairs["count"] / pairs["true"].map(confusion.sum(axis=1))
    return pairs.sort_values(["count", "true", "predicted"], ascending=[False, True, True]).head(top)


def most_confident_mistakes(y_true: np.ndarray, probabilities: np.ndarray, limit: int = 24) -> np.ndarray:
    """Indices of misclassified examples, the most confidently wrong first."""
    wrong = np.flatnonzero(probabilities.argmax(axis=1) != y_true)
    confidence = probabilities[wrong].max(axis=1)
    return wrong[np.argsort(-confidence, kind="stable")][:limit]


def save_figure(figure, path: Path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)


def plot_learning_curves(curves: dict[str, pd.DataFrame], path: Path) -> None:
    figure, axes = plt.subplots(len(curves), 2, figsize=(10, 2.8 * len(curves)), squeeze=False)
    for row, (name, frame) in zip(axes, curves.items()):
        for axis, metric in zip(row, CURVES):
            axis.plot(frame.index, frame[f"train_{metric}"], marker=".", label="training")
            axis.plot(frame.index, frame[f"held_out_{metric}"], marker=".", label="held out")
            axis.set(title=f"{name}: {metric}", xlabel="epoch", ylabel=metric)
            axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            axis.grid(alpha=0.3)
        row[0].legend()
    figure.tight_layout()
    save_figure(figure, path)


def plot_study(study, folder: Path, space: str) -> list[str]:
    """Optuna's own figures of a study: the best value over trials, each trial's
    accuracy per epoch (pruned trials stop early) and, with two complete trials or
    more, the parameter importances. Returns the Markdown that shows them."""
    import functools
    import warnings

    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    figures = {"history": ("Best value over trials", optuna_plots.plot_optimization_history),
               "epochs": ("Validation accuracy per epoch, every trained trial", optuna_plots.plot_intermediate_values)}
    if len(complete) >= 2 and len(study.best_trial.params) >= 1:
        figures["importances"] = ("Parameter importances (PED-ANOVA)", functools.partial(
            optuna_plots.plot_param_importances, evaluator=optuna.importance.PedAnovaImportanceEvaluator()))
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for kind, (title, plot) in figures.items():
            if kind == "epochs" and not any(t.intermediate_values for t in study.trials):
                continue  # grid_cv reports no epochs
            axis = plot(study)
            axis.set_title(f"cv_search@{space}: {title.lower()}")
            save_figure(axis.figure, folder / f"search_{space}_{kind}.png")
            lines.append(f"![{title}](figures/search_{space}_{kind}.png)")
    return lines


def plot_confusion(confusion: pd.DataFrame, title: str, path: Path) -> None:
    side = max(6.5, 0.55 * len(confusion))  # room for many classes' names
    figure, axis = plt.subplots(figsize=(side, side - 1))
    # Log colour scale, so that the few errors show beside the large diagonal.
    image = axis.imshow(confusion.to_numpy() + 1, cmap="Blues", norm=matplotlib.colors.LogNorm())
    for (true, predicted), count in np.ndenumerate(confusion.to_numpy()):
        axis.text(predicted, true, count, ha="center", va="center", fontsize=8,
                  color="white" if true == predicted else "black")
    long_names = max(map(len, confusion.columns)) > 2
    axis.set_xticks(range(len(confusion.columns)), confusion.columns, rotation=45 if long_names else 0,
                    ha="right" if long_names else "center")
    axis.set_yticks(range(len(confusion.index)), confusion.index)
    axis.set(title=title, xlabel="predicted", ylabel="true")
    figure.colorbar(image, ax=axis, label="count + 1 (log scale)")
    save_figure(figure, path)


def plot_gallery(images: np.ndarray, y_true: np.ndarray, probabilities: np.ndarray, classes: list[str],
                 path: Path, columns: int = 8) -> None:
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.4 * columns, 1.7 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, true, p in zip(axes.flat, images, y_true, probabilities):
        axis.imshow(image.squeeze(), cmap="gray_r")
        name = classes[true]
        axis.set_title(f"true {name}, said {classes[p.argmax()]}\n{p.max():.2f} ({p[true]:.2f} for {name})", fontsize=7)
    save_figure(figure, path)


def plot_reliability(tables: dict[str, pd.DataFrame], eces: dict[str, float], path: Path) -> None:
    """Accuracy against confidence per bin, above how many predictions each bin holds
    (most are near 1.0: the low-confidence points stand for few images)."""
    figure, (axis, counts) = plt.subplots(2, 1, figsize=(6, 7.5), sharex=True, height_ratios=[3, 1.2])
    axis.plot([0, 1], [0, 1], color="gray", linestyle="--", label="perfect calibration")
    for name, table in tables.items():
        axis.plot(table["confidence"], table["accuracy"], marker="o", label=f"{name} (ECE {eces[name]:.4f})")
        counts.plot(table["confidence"], table["count"], marker="o", label=name)
    axis.set(title="Reliability diagram, test set", ylabel="accuracy in bin", ylim=(0, 1.02))
    axis.legend(fontsize=8)
    counts.set(xlabel="mean confidence in bin", ylabel="predictions", yscale="log", xlim=(0, 1.02))
    for each in (axis, counts):
        each.grid(alpha=0.3)
    figure.tight_layout()
    save_figure(figure, path)


def table(frame: pd.DataFrame, index: bool = False, floatfmt: str | list[str] = ".4f") -> str:
    """Markdown table: floats to 4 decimals (or `floatfmt`, one per column), integers as
    integers, missing cells empty."""
    cells = frame.astype(object).where(frame.notna(), None)  # object cells keep ints apart from floats
    return cells.to_markdown(index=index, floatfmt=floatfmt, missingval="")


def interval(low: float, high: float) -> str:
    return f"[{low:.4f}, {high:.4f}]"


def search_section(results: dict[str, pd.DataFrame], configs: dict[str, dict], params: dict,
                   study_figures: dict[str, list[str]]) -> list[str]:
    search, split = params["cv_search"], params["split"]
    searched = params["split"]["validation_size"]
    if search["method"] == "optuna":
        settings = search["optuna"]
        images = ", ".join(f"{space} {values['train_images']:,}" for space, values in search["spaces"].items())
        how = (f"Each space is an Optuna study: a TPE sampler (seed {params['seed']}, the first "
               f"{settings['startup_trials']} trials drawn at random) proposes values from the space's ranges; "
               f"each trial trains on the space's `train_images` class-balanced images of the search part ({images}) "
               f"for up to the space's `epochs`, and after each epoch reports its accuracy on the {searched:,} validation "
               f"images to a successive-halving pruner: after {settings['pruner']['min_epochs']} epoch(s), and "
               f"after {settings['pruner']['reduction_factor']} times as many, and so on, a trial goes on only if it "
               f"is among the best 1/{settings['pruner']['reduction_factor']} of the trials that reached that epoch. "
               "A model that would cost more than the space's `max_multiply_adds` per image is not trained and "
               "does not count towards `n_trials`; the sampler learns to avoid them. The winner is the "
               "complete trial with the best validation accuracy.")
    else:
        settings = search["grid_cv"]
        how = (f"notebook 003's protocol: every point of each space's grid scored by stratified "
               f"{settings['folds']}-fold cross-validation of the search and validation images together, up to "
               f"{settings['epochs']} epochs per fold, each fold stopped early on a tenth of its own training "
               "images; `accuracy` pools every fold's images, `fold_std` is the std across folds (ddof=1).")
    lines = ["## The search", "", f"`cv_search` chose each finalist's hyperparameters on training images only. {how} "
             f"No trial saw the {split['holdout_size']:,} holdout images or the test images.", ""]
    for space, frame in results.items():
        space_params = search["spaces"][space]
        untrained = frame["note"].astype("string").fillna("").str.endswith("not trained")
        states = frame.loc[~untrained, "state"].value_counts()
        complete = frame[frame["state"] == "COMPLETE"].sort_values("accuracy", ascending=False)
        best = complete.iloc[0]
        tied = int(complete["tied_with_best"].sum()) - 1
        shown = frame.sort_values(["accuracy", "trial"], ascending=[False, True]).drop(
            columns=["worker", "note", "accuracy_low", "accuracy_high"])
        shown[["multiply_adds", "epochs"]] = shown[["multiply_adds", "epochs"]].astype("Int64")
        searched = shown.columns[shown.columns.get_loc("state") + 1:shown.columns.get_loc("multiply_adds")]
        # 3 significant digits for the searched values (learning rates and decays are small) and seconds
        formats = [".3g" if column in searched or column == "seconds" else ".4f" for column in shown.columns]
        shown.insert(shown.columns.get_loc("accuracy") + 1, "95% interval", [
            interval(low, high) if low == low else "" for low, high in
            zip(frame.loc[shown.index, "accuracy_low"], frame.loc[shown.index, "accuracy_high"])])
        lines += [
            f"### {space}", "",
            f"{int((~untrained).sum())} trials trained (budget {space_params.get('n_trials', len(frame))}, up to "
            f"{space_params['epochs']} epochs each): {states.get('COMPLETE', 0)} complete, "
            f"{states.get('PRUNED', 0)} pruned, {states.get('FAIL', 0)} failed; {int(untrained.sum())} more drawn "
            f"over max_multiply_adds ({space_params['max_multiply_adds']:,}), not trained. Best: trial "
            f"{int(best['trial'])}, validation accuracy {best['accuracy']:.4f} "
            f"{interval(best['accuracy_low'], best['accuracy_high'])} (95% Wilson interval). "
            + (f"{tied} other complete trial(s) are tied with it (their intervals overlap): between them the "
               "choice is noise." if tied else "No other complete trial is within its interval."),
            "",
            table(shown, floatfmt=formats),
            "",
            f"Winner: `{json.dumps(configs[space])}`",
            "",
            *study_figures.get(space, []),
            "",
        ]
    return lines


def overfitting(curves: pd.DataFrame) -> str:
    """What the big model's curves show about overfitting, in their own numbers."""
    last, best = len(curves), int(curves["held_out_loss"].idxmin())
    text = (f"Notebook 000's larger network (`big`) reaches training accuracy {curves['train_accuracy'].iloc[-1]:.4f} at "
            f"epoch {last}, against {curves['held_out_accuracy'].iloc[-1]:.4f} on the validation images. ")
    if best == last:
        return text + f"Its validation loss was still falling at epoch {last}: it did not overfit yet."
    return text + (
        f"Its validation loss was lowest at epoch {best} ({curves.loc[best, 'held_out_loss']:.4f}) and rose to "
        f"{curves['held_out_loss'].iloc[-1]:.4f} by epoch {last}, while its training loss fell from "
        f"{curves.loc[best, 'train_loss']:.4f} to {curves['train_loss'].iloc[-1]:.4f}: after epoch {best} it "
        "learns the training images themselves, not what their classes have in common. Compare the "
        "finalists' curves below.")


def write_report(out_dir: Path, run: Run) -> None:
    """Write out_dir/report.md and its figures in out_dir/figures/."""
    figures = out_dir / "figures"
    y, probabilities, summaries, final = run.y, run.probabilities, run.summaries, run.final
    curves, confusion = run.learning_curves, run.confusion
    models = list(curves)

    plot_learning_curves(curves, figures / "learning_curves.png")
    study_figures = {space: plot_study(study, figures, space) for space, study in run.studies.items()}
    plot_confusion(confusion, f"Confusion matrix, final model ({final}), test set", figures / "confusion.png")
    mistakes = most_confident_mistakes(y, probabilities[final])
    if len(mistakes):
        plot_gallery(run.x[mistakes], y[mistakes], probabilities[final][mistakes], run.classes,
                     figures / "misclassified.png")
    calibrations = {name: calibration(y, probabilities[name]) for name in models}
    eces = {name: ece for name, (ece, _) in calibrations.items()}
    plot_reliability({name: t for name, (_, t) in calibrations.items()}, eces, figures / "reliability.png")

    accuracy = {name: summaries[name]["accuracy"] for name in summaries}
    errors = int((probabilities[final].argmax(axis=1) != y).sum())
    summary_table = pd.DataFrame(summaries).T.rename_axis("model").reset_index()
    held_out = {**run.held_out_accuracy, "final": run.held_out_accuracy[final]}
    held_out_images = {**run.held_out_images, "final": run.held_out_images[final]}
    summary_table.insert(1, "held-out accuracy", summary_table["model"].map(held_out))
    summary_table.insert(2, "held-out 95% interval", [
        interval(*wilson_interval(round(held_out[name] * held_out_images[name]), held_out_images[name]))
        if name in held_out else "" for name in summary_table["model"]])
    summary_table.insert(4, "test 95% interval", [
        interval(*wilson_interval(round(summaries[name]["accuracy"] * len(y)), len(y))) for name in summary_table["model"]])
    final_classes = run.per_class.query("model == @final").drop(columns="model")
    f1_by_model = run.per_class.pivot(index="class", columns="model", values="f1").loc[run.classes, models]
    p = run.params
    height, width = run.x.shape[1:3]

    lines = [
        f"# {run.dataset}: the evaluation report",
        "",
        "Written by `evaluate` from this run's own outputs; every figure below was measured in it.",
        "",
        "## Problem and protocol",
        "",
        f"Classify {run.dataset}'s {height}x{width} grayscale images into {len(run.classes)} classes "
        f"({', '.join(run.classes)}). `split` divides the training images into three disjoint parts (method "
        f"`{p['split']['method']}`): {p['split']['validation_size']:,} validation images, "
        f"{p['split']['holdout_size']:,} holdout images and the rest, the search images. Each decision used "
        "its own images:",
        "",
        f"- `train_baseline` ({p['train_baseline']['epochs']} epochs) and `train_big` "
        f"({p['train_big']['epochs']} epochs) train on the search and holdout images and report their "
        "validation accuracy (notebook 000's protocol); nothing is chosen on them.",
        f"- `cv_search` chose one configuration per model family ({', '.join(run.search_results)}) training on "
        "search images and scoring on validation images (below).",
        "- `train_final` trained each winner on the search and validation images.",
        f"- `final` was chosen between the finalists on the holdout images, which no search used: "
        f"**{final}**. {run.final_reason}",
        f"- The {len(y):,} test images were used once, here, and chose nothing.",
        "",
        "Every accuracy carries its 95% Wilson interval: where two intervals overlap, the difference is "
        "within the noise of that many images.",
        "",
        "## Baseline against a random guess",
        "",
        f"A uniform random guess scores {accuracy['random_guess']:.4f} on the test set; the baseline "
        f"(notebook 000's small network) scores {accuracy['baseline']:.4f}, so the data carries signal a "
        "small model learns.",
        "",
        "## The model that overfits",
        "",
        overfitting(curves["big"]),
        "",
        *search_section(run.search_results, run.best_configs, p, study_figures),
        "## Test metrics",
        "",
        table(summary_table),
        "",
        "`held-out accuracy` is the last epoch's accuracy on images each model did not train on (baseline and "
        "big: the validation images; the finalists: the holdout images); `final` was chosen on it, not on the "
        "test set.",
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
        table(most_confused(confusion)),
        "",
        "## Misclassified test images",
        "",
        f"The final model misclassifies {errors} of {len(y):,} test images; the {len(mistakes)} it was most "
        "confident about, with its probability for its answer and for the true class:",
        "",
        "![Misclassified images](figures/misclassified.png)" if len(mistakes) else "(none)",
        "",
        "## Calibration",
        "",
        table(pd.DataFrame({"model": list(eces), f"expected calibration error ({CALIBRATION_BINS} bins)": list(eces.values())})),
        "",
        "![Reliability diagram](figures/reliability.png)",
        "",
        "## Learning curves",
        "",
        "![Learning curves](figures/learning_curves.png)",
        "",
    ]
    write_text(out_dir / "report.md", "\n".join(lines))
