"""Test-set metrics of a classifier's predicted probabilities: accuracy and loss, per
class scores, the confusion matrix, calibration and the worst mistakes."""

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, precision_recall_fscore_support

CALIBRATION_BINS = 15


def summarize(y_true: np.ndarray, probabilities: np.ndarray) -> dict:
    """Accuracy, cross-entropy loss, macro precision/recall/F1 and the expected
    calibration error of predicted class probabilities (the prediction is the most
    probable class)."""
    num_classes = probabilities.shape[1]
    y_pred = probabilities.argmax(axis=1)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=range(num_classes), average="macro", zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "loss": float(log_loss(y_true, probabilities, labels=range(num_classes))),
        "macro_precision": float(precision),
        "macro_recall": float(recall),
        "macro_f1": float(f1),
        "calibration_error": calibration(y_true, probabilities)[0],
    }


def per_class(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class, named."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=range(len(classes)), zero_division=0
    )
    return pd.DataFrame(
        {"class": classes, "precision": precision, "recall": recall, "f1": f1, "support": support}
    )


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Counts with true classes as rows and predicted classes as columns, named."""
    matrix = confusion_matrix(y_true, y_pred, labels=range(len(classes)))
    return pd.DataFrame(
        matrix, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted")
    )


def random_guess(num_examples: int, num_classes: int, seed: int) -> np.ndarray:
    """Class probabilities of a guesser that picks a class uniformly at random: the
    picked class gets a hair more than 1/num_classes, so it is the prediction."""
    picks = np.random.default_rng(seed).integers(num_classes, size=num_examples)
    probabilities = np.full((num_examples, num_classes), 1.0)
    probabilities[np.arange(num_examples), picks] += 1e-6
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def calibration(
    y_true: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> tuple[float, pd.DataFrame]:
    """Expected calibration error and the reliability table behind it: predictions
    grouped by confidence (the top probability) into equal-width bins; ECE is the
    count-weighted mean gap between each bin's accuracy and its mean confidence."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    table = (
        pd.DataFrame({"bin": which, "confidence": confidence, "correct": correct})
        .groupby("bin")
        .agg(count=("correct", "size"), confidence=("confidence", "mean"), accuracy=("correct", "mean"))
    )
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
