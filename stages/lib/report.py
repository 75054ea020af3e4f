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
    held_out_accuracy: dict[str, float]  # per trained model
    per_class: pd.DataFrame  # per_class() rows of every trained model, with a model column
    confusion: pd.DataFrame  # the final model's
    learning_curves: dict[str, pd.DataFrame]  # per trained model, from learning_curves()
    search_results: dict[str, pd.DataFrame]  # per search space: cv_search's results.csv
    best_configs: dict[str, dict]  # per search space: the winning model spec


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


def plot_search(results: dict[str, pd.DataFrame], path: Path) -> None:
    """Each candidate's score; with its std across folds as an error bar where the
    search was cross-validated."""
    figure, axes = plt.subplots(len(results), 1, figsize=(8, 0.5 + 0.45 * sum(map(len, results.values()))),
                                squeeze=False, height_ratios=[len(r) for r in results.values()])
    for axis, (space, frame) in zip(axes[:, 0], results.items()):
        positions = np.arange(len(frame))
        bars = axis.barh(positions, frame["score"], xerr=frame.get("std"), color="tab:blue", capsize=3)
        detail = frame["std"].map("± {:.4f}".format) if "std" in frame else frame["epochs"].map("after {} epoch(s)".format)
        axis.bar_label(bars, [f"{score:.4f} {text}" for score, text in zip(frame["score"], detail)],
                       padding=4, fontsize=8)
        axis.set_yticks(positions, frame["candidate"])
        axis.invert_yaxis()
        low = max(0.0, (frame["score"] - frame.get("std", 0)).min() - 0.01)
        high = (frame["score"] + frame.get("std", 0)).max()
        axis.set_xlim(low, high + 0.6 * (high - low))  # room for the labels
        axis.set(title=f"cv_search@{space}", xlabel="validation accuracy")
    figure.tight_layout()
    save_figure(figure, path)


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


def table(frame: pd.DataFrame, index: bool = False) -> str:
    """Markdown table: floats to 4 decimals, integers as integers, missing cells empty."""
    cells = frame.astype(object).where(frame.notna(), None)  # object cells keep ints apart from floats
    return cells.to_markdown(index=index, floatfmt=".4f", missingval="")


def search_section(results: dict[str, pd.DataFrame], configs: dict[str, dict], method: dict) -> list[str]:
    if method["method"] == "halving":
        settings = method["halving"]
        how = (f"successive halving on the split: every candidate trains {settings['min_epochs']} epoch(s) and "
               f"is scored on the validation images, the best 1/{settings['reduction_factor']} go on training, "
               f"up to {settings['max_epochs']} epochs (`score` is the accuracy at the last rung a candidate "
               "reached; the columns after it are each rung's accuracy). Halving trains no folds, so there "
               "is no std across folds; set `cv_search.method: grid_cv` for notebook 003's k-fold search")
    else:
        settings = method["grid_cv"]
        how = (f"notebook 003's exhaustive stratified {settings['folds']}-fold cross-validation on all "
               f"training images, up to {settings['epochs']} epochs per fold (`score` is the mean validation "
               "accuracy across folds, `std` its standard deviation)")
    lines = ["## The search", "", f"`cv_search` ran {how}.", ""]
    for space, frame in results.items():
        lines += [f"### {space}", "", table(frame), "",
                  f"Winner: `{json.dumps(configs[space])}`", ""]
    return lines + ["![Search scores](figures/search.png)", ""]


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
    plot_search(run.search_results, figures / "search.png")
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
    summary_table.insert(1, "held-out accuracy", summary_table["model"].map(held_out))
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
        f"({', '.join(run.classes)}). `split` holds out "
        f"{p['split']['validation_size']:,} training images (method `{p['split']['method']}`) for validation; "
        f"`train_baseline` ({p['train_baseline']['epochs']} epochs) and `train_big` "
        f"({p['train_big']['epochs']} epochs) train on the rest. `cv_search` picks one configuration per "
        f"model family ({', '.join(run.search_results)}) on training data only, "
        "`train_final` trains each winner on all training images but a held-out "
        f"{p['train_final']['validation_fraction']:.0%}, and `final` is the finalist with the better held-out "
        f"accuracy: **{final}**. The {len(y):,} test images were used once, here.",
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
        *search_section(run.search_results, run.best_configs, p["cv_search"]),
        "## Test metrics",
        "",
        table(summary_table),
        "",
        "`held-out accuracy` is the last epoch's accuracy on images each model did not train on (validation "
        "split or train_final's held-out share); `final` was chosen on it, not on the test set.",
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
