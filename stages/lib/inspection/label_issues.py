"""Labels a model disputes. In the training images: out-of-sample probabilities from a
small CNN, cross-validated over K folds (each image scored by a model that never saw
it), then cleanlab's confident learning (`find_label_issues`), ranked by cleanlab's
label-quality score, with the class the model suggests."""

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from stages.lib.core.errors import ParamsError
from stages.lib.core.label_quality import ranked
from stages.lib.core.specs import ModelSpec
from stages.lib.training.fitting import fit, new_model

log = logging.getLogger(__name__)


def out_of_sample_probabilities(
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    spec: ModelSpec,
    *,
    folds: int,
    epochs: int,
    batch_size: int,
    seed: int,
) -> np.ndarray:
    """Each image's class probabilities from the model trained on the other folds."""
    counts = np.bincount(y, minlength=num_classes)
    if counts.min() < folds:
        raise ParamsError(
            f"inspect.label_issues.folds is {folds}, but class {counts.argmin()} has {counts.min()} training "
            f"images: each fold needs one of every class; lower folds (at least 2) or add images"
        )
    probabilities = np.zeros((len(y), num_classes), dtype=np.float32)
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)
    for fold, (trained_on, held_out) in enumerate(splits):
        model = new_model(
            spec, x[trained_on], num_classes, epochs=epochs, batch_size=batch_size, seed=seed + fold
        )
        fit(
            model,
            spec.augmentation,
            (x[trained_on], y[trained_on]),
            None,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed + fold,
        )
        probabilities[held_out] = model.predict(x[held_out], batch_size=1024, verbose=0)
        log.info("fold %d of %d: %d images scored", fold + 1, folds, len(held_out))
    return probabilities


def confident_learning(labels: np.ndarray, probabilities: np.ndarray, filter_by: str) -> pd.DataFrame:
    """cleanlab's find_label_issues, ranked: the confident joint (per-class thresholds at
    each class's mean self-confidence) estimates how many labels of each class are wrong,
    and `filter_by` says which to list (prune_by_class: that many of each given class, the
    least self-confident; prune_by_noise_rate, cleanlab's default: per pair of given and
    true class, by margin; both: those both rules list). In this process (n_jobs=1): its
    default forks a pool per physical core, and forking a process that holds TensorFlow's
    threads can deadlock the child."""
    from cleanlab.filter import find_label_issues

    flagged = find_label_issues(labels, probabilities, filter_by=filter_by, n_jobs=1)
    return ranked(labels, probabilities, flagged)
