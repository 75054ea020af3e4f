"""Grid search with stratified k-fold cross-validation (notebook 003's protocol)."""

import itertools
import logging
import time
from typing import Mapping

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from stages.lib.errors import ParamsError
from stages.lib.models import validate_spec
from stages.lib.params import integer, list_of, section, validate
from stages.lib.training import SCHEMA as TRAINING_SCHEMA
from stages.lib.training import train

log = logging.getLogger(__name__)


def grid(value, where):
    if not isinstance(value, Mapping) or not value:
        raise ParamsError(f"{where} must map model keys to lists of values to try, got {value!r}")
    return {key: list_of(lambda v, _: v)(values, f"{where}.{key}") for key, values in value.items()}


SCHEMA = {
    "model": validate_spec,
    "grid": grid,
    "folds": integer(minimum=2),
    **TRAINING_SCHEMA,
    "early_stopping_patience": integer(minimum=1),
}


def search_params(params: Mapping) -> dict:
    settings = validate(section(params, "cv_search"), SCHEMA, "cv_search")
    settings["candidates"] = candidates(settings["model"], settings["grid"])
    return settings


def candidates(base: Mapping, grid: Mapping[str, list]) -> list[dict]:
    """Every combination of the grid's values, each applied over the base spec."""
    for key in grid:
        if key not in base:
            raise ParamsError(
                f"cv_search.grid.{key} is not a key of cv_search.model "
                f"(keys: {', '.join(k for k in base if k != 'family')})"
            )
    keys = list(grid)
    return [
        validate_spec({**base, **dict(zip(keys, values))}, f"cv_search candidate {dict(zip(keys, values))}")
        for values in itertools.product(*(grid[key] for key in keys))
    ]


def cross_validate(spec, x, y, *, folds, epochs, batch_size, early_stopping_patience, seed, num_classes):
    """Validation accuracy of `spec` on each of `folds` stratified folds."""
    import keras

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = []
    for fold, (train_index, validation_index) in enumerate(splitter.split(x, y), 1):
        log.info("  fold %d/%d", fold, folds)
        validation = (x[validation_index], y[validation_index])
        stop = keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=early_stopping_patience, restore_best_weights=True
        )
        model, _ = train(
            spec, (x[train_index], y[train_index]), validation,
            epochs=epochs, batch_size=batch_size, seed=seed, num_classes=num_classes, callbacks=[stop],
        )
        scores.append(float(model.evaluate(*validation, verbose=0)[1]))
        log.info("  fold %d/%d: validation accuracy %.4f", fold, folds, scores[-1])
        keras.backend.clear_session()
    return scores


def run_search(settings: Mapping, x: np.ndarray, y: np.ndarray, *, seed: int, num_classes: int) -> pd.DataFrame:
    """One row per candidate: the grid values, each fold's score, mean and std."""
    rows = []
    total = len(settings["candidates"])
    for number, spec in enumerate(settings["candidates"], 1):
        overrides = {key: spec[key] for key in settings["grid"]}
        log.info("candidate %d/%d: %s", number, total, overrides)
        started = time.perf_counter()
        scores = cross_validate(
            spec, x, y, folds=settings["folds"], epochs=settings["epochs"], batch_size=settings["batch_size"],
            early_stopping_patience=settings["early_stopping_patience"], seed=seed, num_classes=num_classes,
        )
        rows.append({
            "candidate": " ".join(f"{key}={value}" for key, value in overrides.items()),
            **{f"fold_{fold}": score for fold, score in enumerate(scores, 1)},
            "mean_accuracy": float(np.mean(scores)),
            "std_accuracy": float(np.std(scores)),
        })
        log.info(
            "candidate %d/%d: mean validation accuracy %.4f (%.0f s)",
            number, total, rows[-1]["mean_accuracy"], time.perf_counter() - started,
        )
    return pd.DataFrame(rows)

