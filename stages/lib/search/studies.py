"""cv_search's study: Optuna trials over one search space, kept in a database that
several processes (the stage and its `--worker`s) can share, run until the space's
budget is spent (results.py tabulates its trials).

method optuna: the space's default (its base spec) is the first trial, enqueued;
then a seeded sampler (scrambled Sobol points, or multivariate TPE) and, if asked, a
successive-halving pruner, which stops the weakest trials early
(objectives.trial_objective reports each epoch to it). method grid_cv: a grid sampler
over the grid, no pruning. A trial whose process stops sending heartbeats for
cv_search.worker_timeout seconds (killed, machine lost) is marked FAIL and run again.
"""

import functools
import logging
import os
import time
import warnings
from typing import Callable

import numpy as np
import optuna
import sqlalchemy.exc
from optuna.trial import TrialState

from stages.lib.core.errors import ParamsError
from stages.lib.core.search_config import CvSearch, Space
from stages.lib.search.spaces import default_values

log = logging.getLogger(__name__)

STORAGE_ENV = "CV_SEARCH_STORAGE"
RETRIES = 3  # how often a trial whose worker died is run again


class BudgetSpent(Exception):
    """A trial started after n_trials others had: it is recorded as FAIL, not run."""


def storage_url(search: CvSearch) -> str | None:
    return os.environ.get(STORAGE_ENV) or search.storage


def quiet_experimental(function):
    """`function` without Optuna's notices that the samplers, heartbeats and retries used
    here are experimental features (one per process, on every stage's log)."""

    @functools.wraps(function)
    def quiet(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return function(*args, **kwargs)

    return quiet


@quiet_experimental
def open_study(name: str, url: str, search: CvSearch, space: Space, *, seed: int, worker: bool = False):
    """The study `name` in the database at `url`, created if it is not there yet
    (workers' TPE samplers are unseeded: with one seed they would all draw the same)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # optimize() logs each trial
    for attempt in range(3):  # processes starting together on a new database race to create its tables
        try:
            storage = optuna.storages.RDBStorage(
                url,
                heartbeat_interval=max(1, search.worker_timeout // 6),
                grace_period=search.worker_timeout,
                # Optuna 4.9's name for RetryFailedTrialCallback
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                    max_retry=RETRIES
                ),
            )
            break
        except (ImportError, ValueError, sqlalchemy.exc.SQLAlchemyError) as error:
            # A missing driver or a malformed URL will not mend by waiting.
            if attempt == 2 or isinstance(error, ImportError | ValueError | sqlalchemy.exc.ArgumentError):
                raise ParamsError(
                    f"cannot open the study database {url!r} (cv_search.storage or ${STORAGE_ENV}): {error}"
                ) from None
            time.sleep(1 + attempt)
    if search.method == "grid_cv":
        sampler, pruner = optuna.samplers.GridSampler(space.grid, seed=seed), optuna.pruners.NopPruner()
    else:
        settings = search.optuna
        if settings.sampler == "qmc":
            # Every process draws from one scrambled Sobol sequence, seeded by the params.
            sampler = optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
        else:
            sampler = optuna.samplers.TPESampler(
                seed=None if worker else seed, n_startup_trials=settings.startup_trials, multivariate=True
            )
        pruner = optuna.pruners.NopPruner()
        if settings.pruner is not None:
            pruner = optuna.pruners.SuccessiveHalvingPruner(
                min_resource=settings.pruner.min_epochs, reduction_factor=settings.pruner.reduction_factor
            )
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="maximize",
        load_if_exists=True,
    )
    if search.method == "optuna" and not worker:
        study.enqueue_trial(default_values(space), user_attrs={"default": True}, skip_if_exists=True)
    return study


def n_trials(search: CvSearch, space: Space) -> int:
    """The trials a study runs: n_trials, or every grid point for grid_cv."""
    if search.method == "grid_cv":
        return int(np.prod([len(values) for values in space.grid.values()]))
    return space.n_trials


def counted(trials) -> list:
    """The trials that count towards n_trials: those running or done, not failed
    (a failed trial whose worker died is run again as a new trial)."""
    states = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)
    return [t for t in trials if t.state in states]


def finished(trials) -> list:
    return [t for t in counted(trials) if t.state.is_finished()]


def optimize(study, objective: Callable, budget: int) -> None:
    """Run trials in this process until the study holds `budget` counted trials,
    whoever ran them (other processes may be running trials of the same study)."""
    started = time.perf_counter()
    mine = 0

    def after_trial(study, trial):
        nonlocal mine
        trials = study.get_trials(deepcopy=False)
        mine += 1
        elapsed = time.perf_counter() - started
        log.info(
            "trial %d %s: %s; %d of %d trials finished, %.0f s so far, about %.0f s left",
            trial.number,
            trial.state.name.lower(),
            describe(trial),
            len(finished(trials)),
            budget,
            elapsed,
            elapsed / mine * max(0, budget - len(finished(trials))),
        )
        if len(counted(trials)) >= budget:
            study.stop()

    def guarded(trial):
        others = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        if len(counted(others)) >= budget:
            study.stop()
            raise BudgetSpent(
                f"trial {trial.number} started after the study had its {budget} trials: not run"
            )
        return objective(trial)

    if len(counted(study.get_trials(deepcopy=False))) < budget:
        study.optimize(guarded, callbacks=[after_trial], catch=(BudgetSpent,))


def run_study(study, objective: Callable, budget: int) -> None:
    """The stage's loop: run trials, wait for the other processes' trials, and run
    more if one of theirs failed (its worker died), until `budget` trials finished."""
    while True:
        optimize(study, objective, budget)
        wait_for_others(study)
        if len(finished(study.get_trials(deepcopy=False))) >= budget:
            return


def wait_for_others(study, poll_seconds: float = 5.0) -> None:
    """Return once no trial of the study is running (in another process)."""
    while running := study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        log.info(
            "waiting for %d trial(s) that other workers are running: %s",
            len(running),
            ", ".join(str(t.number) for t in running),
        )
        time.sleep(poll_seconds)
        optuna.storages.fail_stale_trials(study)


def describe(trial) -> str:
    attrs = trial.user_attrs
    params = " ".join(
        f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in trial.params.items()
    )
    if "correct" not in attrs:
        return f"{params}; {trial.system_attrs.get('fail_reason', '')}".strip("; ")
    accuracy = attrs["correct"] / attrs["images"]
    return f"{params}; validation accuracy {accuracy:.4f} after {attrs['epochs']} epoch(s)"
