"""cv_search's study: Optuna trials over one search space, kept in a database that
several processes (the stage and its `--worker`s) can share, run until the space's
budget is spent (results.py tabulates its trials).

method optuna: a seeded TPE sampler and a successive-halving pruner, which stops the
weakest trials early (objectives.trial_objective reports each epoch to it). A trial
whose model costs more than the space's max_multiply_adds is not trained; it does not
count towards n_trials, and the sampler learns to avoid such models (a constraint).
method grid_cv: a grid sampler over the grid, no pruning.
"""

import logging
import os
import time
from typing import Callable

import numpy as np
import optuna
import sqlalchemy.exc

from stages.lib.core.config import CvSearch, Space
from stages.lib.core.errors import ParamsError

log = logging.getLogger(__name__)

STORAGE_ENV = "CV_SEARCH_STORAGE"
# A process that stops sending heartbeats for GRACE_SECONDS (killed, machine lost) has
# its running trial marked FAIL, so that the others do not wait for it forever.
HEARTBEAT_SECONDS, GRACE_SECONDS = 10, 60


class BudgetSpent(Exception):
    """A trial started after n_trials others had: it is recorded as FAIL, not run."""


def storage_url(search: CvSearch) -> str | None:
    return os.environ.get(STORAGE_ENV) or search.storage


def open_study(name: str, url: str, search: CvSearch, space: Space, *, seed: int | None):
    """The study `name` in the database at `url`, created if it is not there yet."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # optimize() logs each trial
    for attempt in range(3):  # processes starting together on a new database race to create its tables
        try:
            storage = optuna.storages.RDBStorage(
                url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS
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
        # TPE treats a trial whose constraint (set in _start) is > 0 as infeasible.
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=search.optuna.startup_trials)
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=search.optuna.pruner.min_epochs,
            reduction_factor=search.optuna.pruner.reduction_factor,
        )
    return optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="maximize",
        load_if_exists=True,
    )


def n_trials(search: CvSearch, space: Space) -> int:
    """The trials a study runs: n_trials, or every grid point for grid_cv."""
    if search.method == "grid_cv":
        return int(np.prod([len(values) for values in space.grid.values()]))
    return space.n_trials


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
        log.info(
            "trial %d %s: %s; %d of %d trials finished, %.0f s so far, about %.0f s left",
            trial.number,
            trial.state.name.lower(),
            describe(trial),
            len(finished),
            budget,
            elapsed,
            elapsed / max(mine, 1) * max(0, budget - len(finished)),
        )
        if spent(trials):
            study.stop()

    def guarded(trial):
        others = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        if spent(others):
            study.stop()
            raise BudgetSpent(
                f"trial {trial.number} started after the study had its {budget} trials: not run"
            )
        return objective(trial)

    if not spent(study.get_trials(deepcopy=False)):
        study.optimize(guarded, callbacks=[after_trial], catch=(BudgetSpent,))


def wait_for_others(study, poll_seconds: float = 5.0) -> None:
    """Return once no trial of the study is running (in another process)."""
    while running := study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
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
        return f"{params}; {attrs.get('note', trial.system_attrs.get('fail_reason', ''))}".strip("; ")
    accuracy = attrs["correct"] / attrs["images"]
    return f"{params}; validation accuracy {accuracy:.4f} after {attrs['epochs']} epoch(s)"
