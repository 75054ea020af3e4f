"""Model selection on training data only, one search space (a model family) at a time.

Two methods:
- halving (default): successive halving on the train/validation split. Every candidate
  trains `min_epochs`; the best 1/reduction_factor of them go on training (from where
  they stopped) to reduction_factor times as many epochs, and so on until `max_epochs`
  or until one is left, the winner. Weak candidates cost one short rung instead of a
  full run.
- grid_cv: notebook 003's exhaustive protocol: every candidate trained on each of
  `folds` stratified folds of all training images, with early stopping.
"""

import itertools
import logging
import time
from typing import Mapping

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from stages.lib.errors import ParamsError
from stages.lib.models import validate_spec
from stages.lib.params import integer, list_of, one_of, section, validate
from stages.lib.training import fit, new_model, train

log = logging.getLogger(__name__)

METHODS = ("halving", "grid_cv")


def grid(value, where):
    if not isinstance(value, Mapping) or not value:
        raise ParamsError(f"{where} must map model keys to lists of values to try, got {value!r}")
    return {key: list_of(lambda v, _: v)(values, f"{where}.{key}") for key, values in value.items()}


def halving_settings(value, where):
    settings = validate(value, {
        "min_epochs": integer(minimum=1),
        "max_epochs": integer(minimum=1),
        "reduction_factor": integer(minimum=2),
    }, where)
    if settings["max_epochs"] < settings["min_epochs"]:
        raise ParamsError(f"{where}.max_epochs ({settings['max_epochs']}) must be >= min_epochs ({settings['min_epochs']})")
    return settings


def spaces(value, where):
    if not isinstance(value, Mapping) or not value:
        raise ParamsError(f"{where} must map each search space's name to its model and grid, got {value!r}")
    return value


SCHEMA = {
    "method": one_of(*METHODS),
    "batch_size": integer(minimum=1),
    "halving": halving_settings,
    "grid_cv": lambda value, where: validate(value, {
        "folds": integer(minimum=2),
        "epochs": integer(minimum=1),
        # Stop a fold when validation accuracy has not improved for this many epochs,
        # and keep the best epoch's weights.
        "early_stopping_patience": integer(minimum=1),
    }, where),
    "spaces": spaces,
}


def search_params(params: Mapping, space: str) -> dict:
    """cv_search's settings, with the `candidates` of search space `space`."""
    settings = validate(section(params, "cv_search"), SCHEMA, "cv_search")
    where = f"cv_search.spaces.{space}"
    if space not in settings["spaces"]:
        raise ParamsError(f"{where} is missing: cv_search.spaces must define {space!r}")
    chosen = validate(settings["spaces"][space], {"model": validate_spec, "grid": grid}, where)
    settings["grid"] = chosen["grid"]
    settings["candidates"] = candidates(chosen["model"], chosen["grid"], where)
    return settings


def candidates(base: Mapping, grid: Mapping[str, list], where: str = "cv_search") -> list[dict]:
    """Every combination of the grid's values, each applied over the base spec."""
    for key in grid:
        if key not in base:
            raise ParamsError(
                f"{where}.grid.{key} is not a key of {where}.model "
                f"(keys: {', '.join(k for k in base if k != 'family')})"
            )
    keys = list(grid)
    return [
        validate_spec({**base, **dict(zip(keys, values))}, f"{where} candidate {dict(zip(keys, values))}")
        for values in itertools.product(*(grid[key] for key in keys))
    ]


def label(spec: Mapping, grid: Mapping) -> str:
    return " ".join(f"{key}={spec[key]}" for key in grid)


class Progress:
    """Logs each finished piece of a search with the time so far and an estimate of
    the time left, from the pace so far (the pieces differ in cost, so it is rough)."""

    def __init__(self, total: int):
        self.total, self.done, self.started = total, 0, time.perf_counter()

    def step(self, units: int, message: str, *args) -> None:
        self.done += units
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.done * (self.total - self.done)
        log.info(message + "; %.0f s so far, about %.0f s left", *args, elapsed, left)


def planned_epochs(candidates: int, min_epochs: int, max_epochs: int, factor: int) -> int:
    """Epochs successive halving trains in all, counted over every candidate."""
    total, done, epochs = 0, 0, min_epochs
    while True:
        total += candidates * (epochs - done)
        candidates = max(1, candidates // factor)
        if epochs >= max_epochs or candidates == 1:
            return total
        done, epochs = epochs, min(epochs * factor, max_epochs)


def successive_halving(settings: Mapping, train_data, validation_data, *, seed: int, num_classes: int) -> pd.DataFrame:
    """One row per candidate: the epochs it trained, its validation accuracy then
    (score), and after each rung it reached (accuracy_at_N_epochs)."""
    specs, halving = settings["candidates"], settings["halving"]
    max_epochs, factor = halving["max_epochs"], halving["reduction_factor"]
    models, trained = [None] * len(specs), [0] * len(specs)
    rows = [{"candidate": label(spec, settings["grid"])} for spec in specs]
    survivors, epochs, rungs = list(range(len(specs))), halving["min_epochs"], []
    progress = Progress(planned_epochs(len(specs), halving["min_epochs"], max_epochs, factor))
    while True:
        rungs.append(f"accuracy_at_{epochs}_epochs")
        for rank, index in enumerate(survivors, 1):
            if models[index] is None:
                # Every candidate follows the learning-rate schedule of a max_epochs run.
                models[index] = new_model(specs[index], train_data[0], num_classes, epochs=max_epochs,
                                          batch_size=settings["batch_size"], seed=seed)
            history = fit(models[index], specs[index], train_data, validation_data, epochs=epochs,
                          initial_epoch=trained[index], batch_size=settings["batch_size"], seed=seed)
            progress.step(epochs - trained[index], "rung %d (%d epochs), candidate %d/%d (%s): validation accuracy %.4f",
                          len(rungs), epochs, rank, len(survivors), rows[index]["candidate"], history["val_accuracy"][-1])
            trained[index] = epochs
            rows[index][rungs[-1]] = history["val_accuracy"][-1]
        survivors.sort(key=lambda index: -rows[index][rungs[-1]])  # stable: ties keep their order
        for index in survivors[max(1, len(survivors) // factor):]:
            models[index] = None
        survivors = survivors[: max(1, len(survivors) // factor)]
        if epochs >= max_epochs or len(survivors) == 1:  # the winner is decided
            break
        epochs = min(epochs * factor, max_epochs)
    for row, epochs_trained in zip(rows, trained):
        row["epochs"] = epochs_trained
        row["score"] = row[f"accuracy_at_{epochs_trained}_epochs"]
    return pd.DataFrame(rows, columns=["candidate", "epochs", "score", *rungs])


def cross_validate(spec, x, y, *, folds, epochs, batch_size, early_stopping_patience, seed, num_classes,
                   on_fold=lambda fold, scores: None):
    """Validation accuracy of `spec` on each of `folds` stratified folds; `on_fold` is
    called with the fold's number and the scores so far after each one."""
    import keras

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = []
    for fold, (train_index, validation_index) in enumerate(splitter.split(x, y), 1):
        validation = (x[validation_index], y[validation_index])
        stop = keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=early_stopping_patience, restore_best_weights=True
        )
        model, _ = train(
            spec, (x[train_index], y[train_index]), validation,
            epochs=epochs, batch_size=batch_size, seed=seed, num_classes=num_classes, callbacks=[stop],
        )
        scores.append(float(model.evaluate(*validation, verbose=0)[1]))
        on_fold(fold, scores)
        keras.backend.clear_session()
    return scores


def grid_cv(settings: Mapping, x: np.ndarray, y: np.ndarray, *, seed: int, num_classes: int) -> pd.DataFrame:
    """One row per candidate: each fold's score, their mean (the score) and std."""
    rows = []
    total, folds = len(settings["candidates"]), settings["grid_cv"]["folds"]
    progress = Progress(total * folds)
    for number, spec in enumerate(settings["candidates"], 1):
        name = label(spec, settings["grid"])

        def on_fold(fold, scores):
            progress.step(1, "candidate %d/%d (%s), fold %d/%d: validation accuracy %.4f, mean so far %.4f",
                          number, total, name, fold, folds, scores[-1], np.mean(scores))

        scores = cross_validate(spec, x, y, batch_size=settings["batch_size"], seed=seed, num_classes=num_classes,
                                on_fold=on_fold, **settings["grid_cv"])
        rows.append({
            "candidate": name,
            **{f"fold_{fold}": score for fold, score in enumerate(scores, 1)},
            "score": float(np.mean(scores)),
            "std": float(np.std(scores)),
        })
    return pd.DataFrame(rows)


def winner(results: pd.DataFrame) -> int:
    """Row index of the best candidate: the longest-trained, then the best score (the
    first on a tie)."""
    keys = ["epochs", "score"] if "epochs" in results else ["score"]
    return int(results.sort_values(keys, ascending=False, kind="stable").index[0])
