"""Confidence intervals of accuracies: what cv_search, evaluate and the report compare."""

from statistics import NormalDist

import numpy as np


def wilson_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of an accuracy of correct/total: where the true
    accuracy lies with `confidence`. Two accuracies whose intervals overlap are a tie."""
    if total <= 0 or not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total and total > 0, got {correct} of {total}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p, n = correct / total, total
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)
