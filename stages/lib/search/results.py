"""A study's results: the best trial, one row per trial with its 95% Wilson interval and
whether it is tied with the best, and the counts cv_search writes to metrics.json."""

import numpy as np
import optuna
import pandas as pd

from stages.lib.core.errors import ParamsError
from stages.lib.core.intervals import wilson_interval
from stages.lib.search.studies import counted


def best_trial(study):
    """The complete trial with the best validation accuracy (the first on a tie)."""
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        raise ParamsError(
            f"no trial of study {study.study_name} completed ({len(study.trials)} trials): raise the "
            "space's n_trials or max_multiply_adds, or the pruner's min_epochs"
        )
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
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name,
                **trial.params,
                "multiply_adds": attrs.get("multiply_adds"),
                "epochs": attrs.get("epochs"),
                "accuracy": attrs["correct"] / attrs["images"] if trained else np.nan,
                "accuracy_low": low,
                "accuracy_high": high,
                **{f"fold_{fold}": score for fold, score in enumerate(attrs.get("folds", ()), 1)},
                **({"fold_std": attrs["std"]} if "std" in attrs else {}),
                "seconds": attrs.get("seconds"),
                "worker": attrs.get("worker"),
                "note": attrs.get("note", trial.system_attrs.get("fail_reason", "")),
            }
        )
    table = pd.DataFrame(rows)
    counts = ["multiply_adds", "epochs"]
    table[counts] = table[counts].astype("Int64")  # blank when untrained
    best = table.loc[table["trial"] == best_trial(study).number].iloc[0]
    table.insert(
        table.columns.get_loc("seconds"),
        "tied_with_best",
        (table["state"] == "COMPLETE") & (table["accuracy_high"] >= best["accuracy_low"]),
    )
    return table


def summary(study) -> dict:
    trials = counted(study.trials)
    counts = pd.Series([t.state.name for t in trials], dtype=object).value_counts()
    best = best_trial(study)
    return {
        "best_trial": best.number,
        "best_accuracy": best.user_attrs["correct"] / best.user_attrs["images"],
        "trials": len(trials),
        **{state.lower(): int(counts.get(state, 0)) for state in ("COMPLETE", "PRUNED", "FAIL")},
        "untrained": len(study.trials) - len(trials),
    }
