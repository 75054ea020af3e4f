"""Looking at the images before any model does: how many of each class each part holds,
and the pictures that stand apart (blank, far darker or lighter, far less contrast or
information than the rest of their dataset)."""

import numpy as np
import pandas as pd

from stages.lib.data.duplicates import grayscale

BLANK_SPREAD = 0.01  # a picture whose pixels' standard deviation is under this is blank
OUTLIER_SPREADS = 6.0  # odd: this many robust standard deviations from the dataset's median


def class_balance(labels: dict[str, np.ndarray], classes: list[str]) -> pd.DataFrame:
    """Images per class (rows) in each part (columns), with a total column."""
    counts = pd.DataFrame(
        {part: np.bincount(y, minlength=len(classes)) for part, y in labels.items()}, index=classes
    )
    counts["all"] = counts.sum(axis=1)
    return counts.rename_axis("class")


def imbalance(counts: pd.Series) -> float:
    """The largest class's count over the smallest's (inf where a class has none)."""
    return float(counts.max() / counts.min()) if counts.min() else float("inf")


def picture_measures(images: np.ndarray) -> pd.DataFrame:
    """Brightness (mean), contrast (standard deviation) and information (the entropy of a
    32-bin histogram, in bits) of each picture, in grayscale."""
    gray = grayscale(images)
    flat = gray.reshape(len(gray), -1)
    bins = np.minimum((flat * 32).astype(np.int64), 31)
    histogram = np.stack([np.bincount(row, minlength=32) for row in bins]) / flat.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(histogram > 0, histogram * np.log2(histogram), 0), axis=1)
    return pd.DataFrame(
        {"brightness": flat.mean(axis=1), "contrast": flat.std(axis=1), "information": entropy}
    )


def robust_scores(values: pd.Series) -> pd.Series:
    """Distance from the median in robust standard deviations (1.4826 median absolute deviations)."""
    spread = 1.4826 * (values - values.median()).abs().median()
    return (values - values.median()) / max(spread, 1e-6)


def odd_pictures(measures: pd.DataFrame) -> pd.DataFrame:
    """The pictures that stand apart, with why: blank, dark, light, low contrast, low
    information; measures' index kept. Reasons are judged against the same dataset, so a
    dataset of dark pictures has no "dark" ones."""
    reasons = pd.DataFrame(index=measures.index)
    reasons["blank"] = measures["contrast"] < BLANK_SPREAD
    brightness = robust_scores(measures["brightness"])
    reasons["dark"] = brightness < -OUTLIER_SPREADS
    reasons["light"] = brightness > OUTLIER_SPREADS
    reasons["low contrast"] = robust_scores(measures["contrast"]) < -OUTLIER_SPREADS
    reasons["low information"] = robust_scores(measures["information"]) < -OUTLIER_SPREADS
    odd = reasons.any(axis=1)
    why = ["; ".join(reasons.columns[flags]) for flags in reasons[odd].to_numpy()]
    return measures[odd].assign(reason=why)
