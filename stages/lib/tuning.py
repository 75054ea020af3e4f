"""cv_search's study: Optuna trials over one search space, kept in a database that
several processes (the stage and its `--worker`s) can share.

method optuna: a seeded TPE sampler; each trial trains on the search images and
reports each epoch's validation accuracy to a successive-halving pruner, which stops
the weakest early. A trial whose model costs more than the space's max_multiply_adds
is not trained; it does not count towards n_trials, and the sampler learns to avoid
such models (a constraint). method grid_cv: a grid sampler over the grid, each trial scored by
stratified k-fold cross-validation (notebook 003's protocol).
"""

import logging
import os
import socket
import time
from typing import Callable, Mapping

import numpy as np
import optuna
import pandas as pd
import sqlalchemy.exc
from sklearn.model_selection import StratifiedKFold, train_test_split

from stages.lib.errors import ParamsError
from stages.lib.intervals import wilson_interval
from stages.lib.models import multiply_adds
from stages.lib.search import configure, suggest
from stages.lib.training import fit, new_model, train

log = logging.getLogger(__name__)

STORAGE_ENV = "CV_SEARCH_STORAGE"
# A process that stops sending heartbeats for GRACE_SECONDS (killed, machine lost) has
# its running trial marked FAIL, so that the others do not wait for it forever.
HEARTBEAT_SECONDS, GRACE_SECONDS = 10, 60


class BudgetSpent(Exception):
    """A trial started after n_trials others had: it is recorded as FAIL, not run."""


def storage_url(settings: Mapping) -> str | None:
    return os.environ.get(STORAGE_ENV) or settings["storage"]


def open_study(name: str, url: str, settings: Mapping, *, seed: int | None):
    """The study `name` in the database at `url`, created if it is not there yet."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # optimize() logs each trial
    for attempt in range(3):  # processes starting together on a new database race to create its tables
        try:
            storage = optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS,
                                                 grace_period=GRACE_SECONDS)
            break
        except (ImportError, ValueError, sqlalchemy.exc.SQLAlchemyError) as error:
            # A missing driver or a malformed URL will not mend by waiting.
            if attempt == 2 or isinstance(error, ImportError | ValueError | sqlalchemy.exc.ArgumentError):
                raise ParamsError(f"cannot open the study database {url!r} (cv_search.storage or "
                                  f"${STORAGE_ENV}): {error}") from None
            time.sleep(1 + attempt)
    space = settings["space"]
    if settings["method"] == "grid_cv":
        sampler, pruner = optuna.samplers.GridSampler(space["grid"], seed=seed), optuna.pruners.NopPruner()
    else:
        # TPE treats a trial whose constraint (set in _start) is > 0 as infeasible.
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=settings["optuna"]["startup_trials"])
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=settings["optuna"]["pruner"]["min_epochs"],
            reduction_factor=settings["optuna"]["pruner"]["reduction_factor"])
    return optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                               direction="maximize", load_if_exists=True)


def n_trials(settings: Mapping) -> int:
    """The trials a study runs: n_trials, or every grid point for grid_cv."""
    if settings["method"] == "grid_cv":
        return int(np.prod([len(values) for values in settings["space"]["grid"].values()]))
    return settings["space"]["n_trials"]


def counted(trials) -> list:
    """The trials that count towards n_trials: all but those left untrained for their
    cost (running ones count: they are training)."""
    return [t for t in trials if t.user_attrs.get("trained", True)]


def optimize(study, objective: Callable, budget: int) -> None:
    """Run trials in this process until the study holds `budget` counted trials,
    whoever ran them (other processes may be running trials of the same study). At
    most 10 * budget trials in all, should nearly every draw be over the cost budget."""
    started = time.perf_counter()
    mine = 0

    def spent(trials) -> bool:
        return len(counted(trials)) >= budget or len(trials) >= 10 * budget

    def after_trial(study, trial):
        nonlocal mine
        trials = study.get_trials(deepcopy=False)
        finished = [t for t in counted(trials) if t.state.is_finished()]
        if trial.user_attrs.get("trained", True):
            mine += 1
        elapsed = time.perf_counter() - started
        log.info("trial %d %s: %s; %d of %d trials finished, %.0f s so far, about %.0f s left",
                 trial.number, trial.state.name.lower(), describe(trial), len(finished), budget, elapsed,
                 elapsed / max(mine, 1) * max(0, budget - len(finished)))
        if spent(trials):
            study.stop()

    def guarded(trial):
        others = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        if spent(others):
            study.stop()
            raise BudgetSpent(f"trial {trial.number} started after the study had its {budget} trials: not run")
        return objective(trial)

    if not spent(study.get_trials(deepcopy=False)):
        study.optimize(guarded, callbacks=[after_trial], catch=(BudgetSpent,))


def wait_for_others(study, poll_seconds: float = 5.0) -> None:
    """Return once no trial of the study is running (in another process)."""
    while running := study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        log.info("waiting for %d trial(s) that other workers are running: %s", len(running),
                 ", ".join(str(t.number) for t in running))
        time.sleep(poll_seconds)
        optuna.storages.fail_stale_trials(study)


def describe(trial) -> str:
    attrs = trial.user_attrs
    params = " ".join(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
                      for key, value in trial.params.items())
    if "correct" not in attrs:
        return f"{params}; {attrs.get('note', trial.system_attrs.get('fail_reason', ''))}".strip("; ")
    return f"{params}; validation accuracy {attrs['correct'] / attrs['images']:.4f} after {attrs['epochs']} epoch(s)"


def _start(trial, settings: Mapping, input_shape, num_classes: int) -> dict | None:
    """The trial's spec, its cost and worker recorded; None if over the cost budget."""
    space = settings["space"]
    if settings["method"] == "grid_cv":
        values = {key: trial.suggest_categorical(key, choices) for key, choices in space["grid"].items()}
    else:
        values = suggest(trial, space["search"])
    spec = configure(space["model"], values)
    cost = multiply_adds(spec, input_shape, num_classes)
    trial.set_user_attr("spec", spec)
    trial.set_user_attr("multiply_adds", cost)
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    trial.set_constraint("multiply_adds", cost - space["max_multiply_adds"])
    if cost > space["max_multiply_adds"]:
        trial.set_user_attr("trained", False)
        trial.set_user_attr("note", f"{cost:,} multiply-adds per image, over max_multiply_adds: not trained")
        return None
    return spec


def _record(trial, correct: int, images: int, epochs: int, started: float) -> float:
    trial.set_user_attr("correct", correct)
    trial.set_user_attr("images", images)
    trial.set_user_attr("epochs", epochs)
    trial.set_user_attr("seconds", round(time.perf_counter() - started, 1))
    return correct / images


def pruning_callback(trial):
    """A Keras callback that reports each epoch's validation accuracy to `trial` and
    stops training once the pruner says so (`.pruned` is then True); a trial that
    reached its last epoch is complete, whatever the pruner would say."""
    import keras

    class Pruning(keras.callbacks.Callback):
        pruned = False

        def on_epoch_end(self, epoch, logs=None):
            trial.report(logs["val_accuracy"], epoch + 1)
            if epoch + 1 < self.params["epochs"] and trial.should_prune():
                self.pruned, self.model.stop_training = True, True

    return Pruning()


def trial_objective(settings: Mapping, train_data, validation_data, *, seed: int, num_classes: int):
    """method optuna: train on `train_data` for the space's epochs, pruned on
    `validation_data`; the value is the last epoch's validation accuracy."""
    import keras
    def objective(trial):
        spec = _start(trial, settings, train_data[0].shape[1:], num_classes)
        if spec is None:
            raise optuna.TrialPruned()
        started = time.perf_counter()
        keras.backend.clear_session()
        epochs, batch_size = settings["space"]["epochs"], settings["batch_size"]
        model = new_model(spec, train_data[0], num_classes, epochs=epochs, batch_size=batch_size, seed=seed)
        pruning = pruning_callback(trial)
        history = fit(model, spec, train_data, validation_data, epochs=epochs, batch_size=batch_size, seed=seed,
                      callbacks=[pruning])
        images = len(validation_data[1])
        accuracy = _record(trial, round(history["val_accuracy"][-1] * images), images,
                           len(history["val_accuracy"]), started)
        if pruning.pruned:
            raise optuna.TrialPruned()
        return accuracy

    return objective


def cross_validation_objective(settings: Mapping, x: np.ndarray, y: np.ndarray, *, seed: int, num_classes: int):
    """method grid_cv: the pooled accuracy of stratified k-fold cross-validation; each
    fold's accuracy and the std across folds are kept as user attributes."""
    def objective(trial):
        spec = _start(trial, settings, x.shape[1:], num_classes)
        if spec is None:
            raise optuna.TrialPruned()
        started = time.perf_counter()
        folds = cross_validate(spec, x, y, batch_size=settings["batch_size"], seed=seed, num_classes=num_classes,
                               **settings["grid_cv"])
        scores = [correct / images for correct, images, _ in folds]
        trial.set_user_attr("folds", scores)
        trial.set_user_attr("std", float(np.std(scores, ddof=1)))
        return _record(trial, sum(correct for correct, _, _ in folds), len(y),
                       max(epochs for _, _, epochs in folds), started)

    return objective


def cross_validate(spec, x, y, *, folds, epochs, batch_size, early_stopping_patience, seed, num_classes):
    """(correct, images, epochs trained) of each of `folds` stratified folds. Each fold's model stops
    early on a stratified tenth of its own training images, never on the fold's
    validation images, which only score it."""
    import keras

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    results = []
    for train_index, validation_index in splitter.split(x, y):
        fit_index, stop_index = train_test_split(train_index, test_size=0.1, stratify=y[train_index],
                                                 random_state=seed)
        stop = keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=early_stopping_patience, restore_best_weights=True
        )
        model, history = train(spec, (x[fit_index], y[fit_index]), (x[stop_index], y[stop_index]), epochs=epochs,
                               batch_size=batch_size, seed=seed, num_classes=num_classes, callbacks=[stop])
        predicted = model.predict(x[validation_index], batch_size=1024, verbose=0).argmax(axis=1)
        results.append((int((predicted == y[validation_index]).sum()), len(validation_index),
                        len(history["val_accuracy"])))
        keras.backend.clear_session()
    return results


def best_trial(study):
    """The complete trial with the best validation accuracy (the first on a tie)."""
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        raise ParamsError(f"no trial of study {study.study_name} completed ({len(study.trials)} trials): raise the "
                          "space's n_trials or max_multiply_adds, or the pruner's min_epochs")
    return study.best_trial


def trial_table(study) -> pd.DataFrame:
    """One row per trial: number, state, the searched values, cost, epochs reached,
    validation accuracy with its 95% Wilson interval, whether that interval overlaps
    the best trial's (a tie: the difference is noise), seconds and who ran it."""
    rows = []
    for trial in study.trials:
        attrs = trial.user_attrs
        trained = "correct" in attrs
        low, high = wilson_interval(attrs["correct"], attrs["images"]) if trained else (np.nan, np.nan)
        rows.append({
            "trial": trial.number, "state": trial.state.name, **trial.params,
            "multiply_adds": attrs.get("multiply_adds"), "epochs": attrs.get("epochs"),
            "accuracy": attrs["correct"] / attrs["images"] if trained else np.nan,
            "accuracy_low": low, "accuracy_high": high,
            **{f"fold_{fold}": score for fold, score in enumerate(attrs.get("folds", ()), 1)},
            **({"fold_std": attrs["std"]} if "std" in attrs else {}),
            "seconds": attrs.get("seconds"), "worker": attrs.get("worker"),
            "note": attrs.get("note", trial.system_attrs.get("fail_reason", "")),
        })
    table = pd.DataFrame(rows)
    table[["multiply_adds", "epochs"]] = table[["multiply_adds", "epochs"]].astype("Int64")  # blank when untrained
    best = table.loc[table["trial"] == best_trial(study).number].iloc[0]
    table.insert(table.columns.get_loc("seconds"), "tied_with_best",
                 (table["state"] == "COMPLETE") & (table["accuracy_high"] >= best["accuracy_low"]))
    return table


def summary(study) -> dict:
    trials = counted(study.trials)
    counts = pd.Series([t.state.name for t in trials], dtype=object).value_counts()
    best = best_trial(study)
    return {"best_trial": best.number, "best_accuracy": best.user_attrs["correct"] / best.user_attrs["images"],
            "trials": len(trials), **{state.lower(): int(counts.get(state, 0)) for state in ("COMPLETE", "PRUNED", "FAIL")},
            "untrained": len(study.trials) - len(trials)}
