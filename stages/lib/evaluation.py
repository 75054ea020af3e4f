"""Test-set metrics of a classifier's predictions, and which finalist is `final`."""

from pathlib import Path
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss, precision_recall_fscore_support

from stages.lib.artifacts import read_json
from stages.lib.errors import DataError
from stages.lib.intervals import wilson_interval
from stages.lib.models import multiply_adds
from stages.lib.paths import FINALISTS, METRICS_DIR, best_config_path


# Where evaluate records which finalist is `final`, and why (stages.predict reads it).
FINAL_CHOICE = METRICS_DIR / "evaluate" / "final.json"


def training_metrics_dir(name: str) -> Path:
    """Where the stage that trained a model keeps its dvclive metrics.json and plots/."""
    stage = f"train_final/{name.removesuffix('_final')}" if name.endswith("_final") else f"train_{name}"
    return METRICS_DIR / stage


def held_out_accuracy(name: str) -> float:
    """A trained model's last-epoch accuracy on its held-out images (from dvclive)."""
    return read_json(training_metrics_dir(name) / "metrics.json")["eval"]["accuracy"]


def final_model(holdout_images: int, input_shape: tuple[int, ...], num_classes: int) -> tuple[str, str]:
    """The finalist with the better accuracy on the `holdout_images` holdout images,
    which no search used (never the test set); where the 95% intervals overlap (a tie:
    the difference is noise), the cheaper one, with fewer multiply-adds per image.
    Returns its name and the reason, a sentence."""
    n = holdout_images
    names = [f"{space}_final" for space in FINALISTS]
    accuracy = {name: held_out_accuracy(name) for name in names}
    costs = {f"{space}_final": multiply_adds(read_json(best_config_path(space)), input_shape, num_classes)
             for space in FINALISTS}
    best, runner_up = sorted(names, key=lambda name: -accuracy[name])  # stable: the first on an exact tie
    low = wilson_interval(round(accuracy[best] * n), n)[0]
    high = wilson_interval(round(accuracy[runner_up] * n), n)[1]
    numbers = f"{accuracy[best]:.4f} against {accuracy[runner_up]:.4f} on {n:,} holdout images"
    if high < low:
        return best, f"Its holdout accuracy is higher beyond the noise ({numbers}; the 95% intervals are apart)."
    cheaper = min(names, key=lambda name: costs[name])
    return cheaper, (f"The holdout accuracies are a tie ({numbers}; the 95% intervals overlap), so the cheaper "
                     f"model won: {costs[cheaper]:,} multiply-adds per image against {max(costs.values()):,}.")


def chosen_final() -> str:
    """The name of the model evaluate chose as `final` (it writes FINAL_CHOICE)."""
    if not FINAL_CHOICE.exists():
        raise DataError(f"{FINAL_CHOICE} not found: run `dvc repro` so that evaluate chooses the final model")
    return read_json(FINAL_CHOICE)["model"]


def summarize(y_true: np.ndarray, probabilities: np.ndarray) -> dict:
    """Accuracy, cross-entropy loss and macro precision/recall/F1 of predicted class
    probabilities (the prediction is the most probable class)."""
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
    }


def per_class(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class, named."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=range(len(classes)), zero_division=0
    )
    return pd.DataFrame({"class": classes, "precision": precision, "recall": recall, "f1": f1, "support": support})


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Counts with true classes as rows and predicted classes as columns, named."""
    matrix = confusion_matrix(y_true, y_pred, labels=range(len(classes)))
    return pd.DataFrame(
        matrix,
        index=pd.Index(classes, name="true"),
        columns=pd.Index(classes, name="predicted"),
    )


def random_guess(num_examples: int, num_classes: int, seed: int) -> np.ndarray:
    """Class probabilities of a guesser that picks a class uniformly at random: the
    picked class gets a hair more than 1/num_classes, so it is the prediction."""
    picks = np.random.default_rng(seed).integers(num_classes, size=num_examples)
    probabilities = np.full((num_examples, num_classes), 1.0)
    probabilities[np.arange(num_examples), picks] += 1e-6
    return probabilities / probabilities.sum(axis=1, keepdims=True)
