"""The report's "Data" section, from inspect's lists (metrics/inspect/), and its "Disputed
test labels" section, from the finalists' test probabilities: figures and Markdown."""

from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib.core.label_quality import ranked
from stages.lib.report.figures import plot_pictures, plt, save_figure
from stages.lib.report.tables import table

GALLERY = 24  # pictures at most in each gallery
EXAMPLES = 8  # training pictures shown per class
PATHS = 20  # file paths listed at most per check, for a folder dataset


def label_ranking(labels: np.ndarray, finalists: list[np.ndarray]) -> pd.DataFrame:
    """Every test image, most doubtful label first by cleanlab's label-quality score of
    the finalists' averaged probabilities: rank (from 1), index, given and suggested class,
    score, and whether they put another class first (disputed)."""
    averaged = np.mean(finalists, axis=0)
    ranking = ranked(labels, averaged, np.ones(len(labels), bool))
    ranking.insert(0, "rank", np.arange(1, len(ranking) + 1))
    return ranking.assign(disputed=ranking["suggested"] != ranking["given"])


def disputed_test_labels(ranking: pd.DataFrame) -> pd.DataFrame:
    """The test images whose given label the finalists dispute (the ranking's disputed
    ones, in its order). (cleanlab's find_label_issues, with per-class thresholds near 1
    at this accuracy, lists almost none: docs/data.md.)"""
    return ranking[ranking["disputed"]].drop(columns=["rank", "disputed"]).reset_index(drop=True)


def plot_balance(balance: pd.DataFrame, path: Path) -> None:
    parts = [part for part in balance.columns if part != "all"]
    figure, axis = plt.subplots(figsize=(max(6, 0.5 * len(balance)), 3.2))
    balance[parts].plot.bar(ax=axis, width=0.8)
    axis.set(xlabel="class", ylabel="images", title="Images per class in each part")
    save_figure(figure, path)


def gallery(rows: pd.DataFrame, parts: dict, title, figures: Path, name: str) -> list[str]:
    """A gallery of the first GALLERY rows (part, index) titled by `title(row)`, and, for
    a folder dataset, their files."""
    if rows.empty:
        return []
    shown = rows.head(GALLERY)
    images = np.stack([parts[row.part]["x"][row.index] for row in shown.itertuples()])
    plot_pictures(images, [title(row) for row in shown.itertuples()], figures / f"{name}.png")
    lines = [f"![{name}](figures/{name}.png)", ""]
    if "path" in rows:
        lines += [table(rows.head(PATHS).drop(columns=["score"], errors="ignore"), floatfmt=".3g"), ""]
    return lines


def data_section(lists: Path, summary: dict, parts: dict, classes: list[str], figures: Path) -> list[str]:
    """The Data section: class counts, examples per class, odd pictures, copies and the
    training label issues, each with its count and a gallery."""
    balance = pd.read_csv(lists / "class_balance.csv", index_col="class", dtype={"class": str})
    odd = pd.read_csv(lists / "odd_pictures.csv")
    copies = pd.read_csv(lists / "duplicates.csv")
    issues = pd.read_csv(lists / "label_issues.csv", dtype={"given": str, "suggested": str})
    plot_balance(balance, figures / "class_balance.png")
    train_y = parts["train"]["y"]
    examples = [np.flatnonzero(train_y == label)[:EXAMPLES] for label in range(len(classes))]
    plot_pictures(
        np.stack([parts["train"]["x"][i] for chosen in examples for i in chosen]),
        [classes[train_y[i]] for chosen in examples for i in chosen],
        figures / "examples.png",
        columns=EXAMPLES,
    )
    groups = summary["duplicate_groups"]
    disputed = issues[issues["reason"] != "a copy carries another label"]
    ratios = ", ".join(f"{part} {ratio:.2f}" for part, ratio in summary["class_imbalance"].items())
    return [
        "## Data",
        "",
        "What `inspect` found before any model was chosen (metrics/inspect/: the counts in summary.json, "
        "each flagged image by part and index in lists/*.csv).",
        "",
        f"Images per class; the largest class over the smallest: {ratios}.",
        "",
        "![Images per class](figures/class_balance.png)",
        "",
        f"The first {EXAMPLES} training images of each class:",
        "",
        "![Examples per class](figures/examples.png)",
        "",
        f"**Odd pictures:** {len(odd)} (blank, or far darker, lighter, flatter or emptier than the rest).",
        "",
        *gallery(odd, parts, lambda row: f"{row.part} {row.index}\n{row.reason}", figures, "odd_pictures"),
        f"**Copies:** {groups['exact']} exact and {groups['near']} near groups ({len(copies)} images); of "
        f"these, {groups['across_train_and_test']} span training and test images and "
        f"{groups['with_different_labels']} carry different labels. `preprocess` (with test_fraction) and "
        "`split` keep each group in one part.",
        "",
        *gallery(
            copies,
            parts,
            lambda row: f"group {row.group}: {row.part} {row.index}\n{row.label}",
            figures,
            "copies",
        ),
        f"**Training labels in doubt:** {len(disputed)} images whose label a cheap cross-validated model "
        f"disputes (cross-validated accuracy {summary['cross_validated_accuracy']:.4f}; cleanlab's "
        "find_label_issues), most doubtful first, with the class it suggests:",
        "",
        *gallery(
            disputed,
            parts,
            lambda row: f"train {row.index}\ngiven {row.given}, says {row.suggested}",
            figures,
            "training_label_issues",
        ),
    ]


def disputed_section(
    disputed: pd.DataFrame, x: np.ndarray, y: np.ndarray, final_predictions, classes, figures
):
    """The test images the finalists dispute, and how many of final's errors are on them."""
    errors = np.flatnonzero(final_predictions != y)
    on_disputed = np.isin(errors, disputed["index"]).sum()
    shown = disputed.head(GALLERY)
    lines = [
        "## Disputed test labels",
        "",
        f"The two finalists' averaged probabilities put another class first on {len(disputed)} of "
        f"{len(y):,} test images (metrics/evaluate/label_issues.csv, most doubtful first by cleanlab's "
        f"label-quality score). {on_disputed} of the final model's {len(errors)} test errors are on them. "
        "Some are pictures a person would label as the models do; the accuracy above stays the accuracy "
        "on the given labels, and nothing is chosen on these images. (The training list's rule, "
        "cleanlab's find_label_issues, suits its weaker cross-validated model; from models this accurate "
        "its per-class thresholds sit near 1 and it lists almost nothing.)",
        "",
    ]
    if not shown.empty:
        titles = [
            f"test {i}\ngiven {classes[g]}, says {classes[s]}"
            for i, g, s in shown[["index", "given", "suggested"]].to_numpy()
        ]
        plot_pictures(x[shown["index"]], titles, figures / "disputed_test_labels.png")
        lines += ["![Disputed test labels](figures/disputed_test_labels.png)", ""]
    return lines
