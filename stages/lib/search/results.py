"""A study's results: which trial cv_search keeps (method optuna: the default unless a
challenger beats it beyond the noise), one row per trial with its 95% Wilson interval,
how well early epochs rank the trials, and the counts cv_search writes to metrics.json."""

import numpy as np
import optuna
import pandas as pd
from scipy import stats

from stages.lib.core.errors import ParamsError
from stages.lib.core.intervals import wilson_interval
from stages.lib.core.search_config import CvSearch
from stages.lib.search.objectives import unpack
from stages.lib.search.studies import counted

COMPLETE = optuna.trial.TrialState.COMPLETE


def best_trial(study):
    """The complete trial with the best validation accuracy (the first on a tie)."""
    if not study.get_trials(deepcopy=False, states=(COMPLETE,)):
        raise ParamsError(
            f"no trial of study {study.study_name} completed ({len(study.trials)} trials): raise the "
            "space's n_trials, or the pruner's min_epochs"
        )
    return study.best_trial


def _scored(trial, epochs: int | None = None) -> dict:
    """A trial's number, validation accuracy (after `epochs`, if given) and interval."""
    images = trial.user_attrs["images"]
    accuracy = trial.intermediate_values[epochs] if epochs else trial.user_attrs["correct"] / images
    low, high = wilson_interval(round(accuracy * images), images)
    return {"trial": trial.number, "accuracy": accuracy, "interval": [low, high]}


def decide(study, search: CvSearch) -> dict:
    """Which trial cv_search keeps, and why. method grid_cv: the best. method optuna:
    the default (the enqueued first trial) stays unless the best
    other complete trial is better beyond the noise at the highest fidelity both
    reached: McNemar's exact test on which validation images each gets right when
    both trained every epoch, else 95% Wilson intervals apart after the epochs both
    reached. A tie (no difference at `significance`) goes to the cheaper of the two
    (estimated microseconds per image), the default on equal cost."""
    if search.method == "grid_cv":
        return {"kept": best_trial(study).number, "outcome": "the best cross-validated accuracy"}
    trials = study.get_trials(deepcopy=False)
    defaults = [
        t for t in trials if t.user_attrs.get("default") and t.state.is_finished() and "right" in t.user_attrs
    ]
    challengers = [t for t in trials if t.state == COMPLETE and not t.user_attrs.get("default")]
    if not defaults:
        raise ParamsError(
            f"the default trial of study {study.study_name} did not finish: run the stage again"
        )
    default = defaults[0]
    if not challengers:
        return {"kept": default.number, "outcome": "the default stayed: no other trial completed"}
    cost = lambda t: t.user_attrs["microseconds_per_image"]  # noqa: E731
    challenger = max(challengers, key=lambda t: (t.value, -cost(t), -t.number))
    decision = {"default": _scored(default), "challenger": _scored(challenger)}
    if default.state == COMPLETE:
        different, decision["test"] = mcnemar(default, challenger, search.significance)
    else:  # the default was pruned: compare after the epochs it reached
        epochs = max(default.intermediate_values)
        decision["default"], decision["challenger"] = _scored(default, epochs), _scored(challenger, epochs)
        low, high = sorted((decision["default"]["interval"], decision["challenger"]["interval"]))
        different = low[1] < high[0]
        decision["test"] = {"name": "95% Wilson intervals apart", "epochs": epochs}
    better = decision["challenger"]["accuracy"] > decision["default"]["accuracy"]
    if different:
        kept, why = (challenger, "better") if better else (default, "worse")
        outcome = f"the challenger is {why} beyond the noise"
    else:
        kept = challenger if cost(challenger) < cost(default) else default
        outcome = "a tie, kept the cheaper" if kept is challenger else "a tie, so the default stayed"
    return {"kept": kept.number, "outcome": outcome, **decision}


def mcnemar(default, challenger, significance: float) -> tuple[bool, dict]:
    """McNemar's exact test on the validation images one trial got right and the other
    wrong: whether they differ at `significance`, and the figures."""
    images = default.user_attrs["images"]
    default_right = unpack(default.user_attrs["right"], images)
    challenger_right = unpack(challenger.user_attrs["right"], images)
    only_default = int((default_right & ~challenger_right).sum())
    only_challenger = int((challenger_right & ~default_right).sum())
    discordant = only_default + only_challenger
    p = stats.binomtest(only_challenger, discordant, 0.5).pvalue if discordant else 1.0
    return p < significance, {
        "name": "McNemar exact",
        "only_default_right": only_default,
        "only_challenger_right": only_challenger,
        "p_value": float(p),
        "significance": significance,
    }


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


def summary(study, decision: dict) -> dict:
    trials = counted(study.trials)
    counts = pd.Series([t.state.name for t in study.trials], dtype=object).value_counts()
    kept = study.trials[decision["kept"]]
    return {
        "kept_trial": kept.number,
        "kept_accuracy": kept.user_attrs["correct"] / kept.user_attrs["images"],
        "trials": len(trials),
        **{state.lower(): int(counts.get(state, 0)) for state in ("COMPLETE", "PRUNED", "FAIL")},
        "decision": decision,
        "rank_correlation_with_score": rank_correlations(study),
    }
