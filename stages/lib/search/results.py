"""A study's results: which trial cv_search keeps (method optuna: the default unless a
challenger beats it beyond the noise, by the rule of stages.lib.core.decisions), one
row per trial with its 95% Wilson interval, how well early epochs rank the trials, and
the counts cv_search writes to metrics.json."""

import numpy as np
import optuna
import pandas as pd
from scipy import stats

from stages.lib.core.costs import REFERENCE_MACHINE
from stages.lib.core.decisions import Candidate, record
from stages.lib.core.errors import ParamsError
from stages.lib.core.intervals import wilson_interval
from stages.lib.search.objectives import unpack
from stages.lib.search.studies import counted

COMPLETE = optuna.trial.TrialState.COMPLETE
# What the search's decision names as the cost it compared on a tie.
SEARCH_COST = (
    f"estimated microseconds per training image at the space's batch size, on the {REFERENCE_MACHINE}"
)


def best_trial(study):
    """The complete trial with the best validation accuracy (the first on a tie)."""
    if not study.get_trials(deepcopy=False, states=(COMPLETE,)):
        raise ParamsError(
            f"no trial of study {study.study_name} completed ({len(study.trials)} trials): raise the "
            "space's n_trials, or the pruner's min_epochs"
        )
    return study.best_trial


def decide(study, method: str, significance: float) -> tuple[int, dict]:
    """Which trial cv_search keeps, and the decision as recorded. method grid_cv: the
    best. method optuna: the default (the enqueued first trial, never pruned) against
    the best other complete trial (on equal accuracy the cheaper, then the first), by
    the rule of stages.lib.core.decisions on the validation images each gets right; on
    a tie the cheaper by the cost table, the default on equal cost."""
    if method == "grid_cv":
        return best_trial(study).number, {"outcome": "the best cross-validated accuracy"}
    trials = study.get_trials(deepcopy=False, states=(COMPLETE,))
    defaults = [t for t in trials if t.user_attrs.get("default")]
    if not defaults:
        raise ParamsError(
            f"the default trial of study {study.study_name} did not complete: run the stage again"
        )
    default, challengers = defaults[0], [t for t in trials if not t.user_attrs.get("default")]
    if not challengers:
        return default.number, {"outcome": "the default stayed: no other trial completed"}
    cost = lambda t: t.user_attrs["microseconds_per_image"]  # noqa: E731
    challenger = max(challengers, key=lambda t: (t.value, -cost(t), -t.number))
    compared = {"default": default, "challenger": challenger}
    decision = record(
        *(
            Candidate(name, unpack(t.user_attrs["right"], t.user_attrs["images"]), cost(t))
            for name, t in compared.items()
        ),
        significance=significance,
        cost=SEARCH_COST,
    )
    for name, t in compared.items():
        decision["candidates"][name]["trial"] = t.number
    return compared[decision["kept"]].number, decision


def rank_correlations(study) -> dict[str, float]:
    """For each epoch before the last: Spearman's rank correlation, over the complete
    trials, between the validation accuracy after that epoch and the trial's score
    (how well a pruner judging there would rank the trials)."""
    complete = study.get_trials(deepcopy=False, states=(COMPLETE,))
    if len(complete) < 3:
        return {}
    epochs = min(len(t.intermediate_values) for t in complete)
    scores = [t.value for t in complete]
    return {
        str(epoch): round(
            float(stats.spearmanr([t.intermediate_values[epoch] for t in complete], scores)[0]), 3
        )
        for epoch in range(1, epochs)
    }


def trial_table(study, kept: int) -> pd.DataFrame:
    """One row per trial: number, state, whether it is the default, the searched
    values, cost, epochs reached, validation accuracy with its 95% Wilson interval,
    whether cv_search kept it, seconds and who ran it."""
    rows = []
    for trial in study.trials:
        attrs = trial.user_attrs
        trained = "correct" in attrs
        low, high = wilson_interval(attrs["correct"], attrs["images"]) if trained else (np.nan, np.nan)
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name,
                "default": bool(attrs.get("default")),
                **trial.params,
                "multiply_adds": attrs.get("multiply_adds"),
                "microseconds_per_image": attrs.get("microseconds_per_image"),
                "epochs": attrs.get("epochs"),
                "accuracy": attrs["correct"] / attrs["images"] if trained else np.nan,
                "accuracy_low": low,
                "accuracy_high": high,
                **{f"fold_{fold}": score for fold, score in enumerate(attrs.get("folds", ()), 1)},
                **({"fold_std": attrs["std"]} if "std" in attrs else {}),
                "kept": trial.number == kept,
                "seconds": attrs.get("seconds"),
                "worker": attrs.get("worker"),
                "note": trial.system_attrs.get("fail_reason", ""),
            }
        )
    table = pd.DataFrame(rows)
    counts = ["multiply_adds", "epochs"]
    table[counts] = table[counts].astype("Int64")  # blank when not trained
    return table


def summary(study, kept: int, decision: dict) -> dict:
    trials = counted(study.trials)
    counts = pd.Series([t.state.name for t in study.trials], dtype=object).value_counts()
    attrs = study.trials[kept].user_attrs
    return {
        "kept_trial": kept,
        "kept_accuracy": attrs["correct"] / attrs["images"],
        "trials": len(trials),
        **{state.lower(): int(counts.get(state, 0)) for state in ("COMPLETE", "PRUNED", "FAIL")},
        "decision": decision,
        "rank_correlation_with_score": rank_correlations(study),
    }
