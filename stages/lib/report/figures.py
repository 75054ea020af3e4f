"""The report's matplotlib figures, each written atomically as a PNG."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on CI machines or servers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from stages.lib.core.artifacts import atomic_path  # noqa: E402

CURVES = ("accuracy", "loss")


def save_figure(figure, path: Path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)


def plot_learning_curves(curves: dict[str, pd.DataFrame], path: Path) -> None:
    figure, axes = plt.subplots(len(curves), 2, figsize=(10, 2.8 * len(curves)), squeeze=False)
    for row, (name, frame) in zip(axes, curves.items(), strict=True):
        for axis, metric in zip(row, CURVES, strict=True):
            axis.plot(frame.index, frame[f"train_{metric}"], marker=".", label="training")
            axis.plot(frame.index, frame[f"held_out_{metric}"], marker=".", label="held out")
            axis.set(title=f"{name}: {metric}", xlabel="epoch", ylabel=metric)
            axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            axis.grid(alpha=0.3)
        row[0].legend()
    figure.tight_layout()
    save_figure(figure, path)


def plot_confusion(confusion: pd.DataFrame, title: str, path: Path) -> None:
    side = max(6.5, 0.55 * len(confusion))  # room for many classes' names
    figure, axis = plt.subplots(figsize=(side, side - 1))
    # Log colour scale, so that the few errors show beside the large diagonal.
    image = axis.imshow(confusion.to_numpy() + 1, cmap="Blues", norm=matplotlib.colors.LogNorm())
    for (true, predicted), count in np.ndenumerate(confusion.to_numpy()):
        axis.text(
            predicted,
            true,
            count,
            ha="center",
            va="center",
            fontsize=8,
            color="white" if true == predicted else "black",
        )
    long_names = max(map(len, confusion.columns)) > 2
    axis.set_xticks(
        range(len(confusion.columns)),
        confusion.columns,
        rotation=45 if long_names else 0,
        ha="right" if long_names else "center",
    )
    axis.set_yticks(range(len(confusion.index)), confusion.index)
    axis.set(title=title, xlabel="predicted", ylabel="true")
    figure.colorbar(image, ax=axis, label="count + 1 (log scale)")
    save_figure(figure, path)


def plot_pictures(images: np.ndarray, titles: list[str], path: Path, columns: int = 8) -> None:
    """A grid of pictures (ink dark on light; colour ones as they are), each titled."""
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.4 * columns, 1.7 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, title in zip(axes.flat, images, titles, strict=False):
        axis.imshow(image.squeeze(), cmap="gray_r", vmin=0, vmax=1)
        axis.set_title(title, fontsize=7)
    save_figure(figure, path)


def plot_gallery(
    images: np.ndarray, y_true: np.ndarray, probabilities: np.ndarray, classes: list[str], path: Path
) -> None:
    """Misclassified pictures, each with the class said, its probability and the true one's."""
    titles = [
        f"true {classes[true]}, said {classes[p.argmax()]}\n{p.max():.2f} ({p[true]:.2f} for {classes[true]})"
        for true, p in zip(y_true, probabilities, strict=True)
    ]
    plot_pictures(images, titles, path)


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
