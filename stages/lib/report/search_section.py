"""The report's section on cv_search: how each space was searched, its trial table
and Optuna's figures of its study."""

import json
from pathlib import Path

import pandas as pd

from stages.lib.core.config import Params
from stages.lib.report.figures import save_figure
from stages.lib.report.tables import interval, table


def plot_study(study, folder: Path, space: str) -> list[str]:
    """Optuna's own figures of a study: the best value over trials, each trial's
    accuracy per epoch (pruned trials stop early) and, with two complete trials or
    more, the parameter importances. Returns the Markdown that shows them."""
    import functools
    import warnings

    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    figures = {
        "history": ("Best value over trials", optuna_plots.plot_optimization_history),
        "epochs": (
            "Validation accuracy per epoch, every trained trial",
            optuna_plots.plot_intermediate_values,
        ),
    }
    if len(complete) >= 2 and len(study.best_trial.params) >= 1:
        figures["importances"] = (
            "Parameter importances (PED-ANOVA)",
            functools.partial(
                optuna_plots.plot_param_importances, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
            ),
        )
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for kind, (title, plot) in figures.items():
            if kind == "epochs" and not any(t.intermediate_values for t in study.trials):
                continue  # grid_cv reports no epochs
            axis = plot(study)
            axis.set_title(f"cv_search@{space}: {title.lower()}")
            save_figure(axis.figure, folder / f"search_{space}_{kind}.png")
            lines.append(f"![{title}](figures/search_{space}_{kind}.png)")
    return lines


def search_section(
    results: dict[str, pd.DataFrame],
    configs: dict[str, dict],
    params: Params,
    study_figures: dict[str, list[str]],
) -> list[str]:
    search, split = params.cv_search, params.split
    searched = split.validation_size
    if search.method == "optuna":
        settings = search.optuna
        images = ", ".join(f"{space} {getattr(search.spaces, space).train_images:,}" for space in results)
        how = (
            f"Each space is an Optuna study: a TPE sampler (seed {params.seed}, the first "
            f"{settings.startup_trials} trials drawn at random) proposes values from the space's ranges; "
            "each trial trains on the space's `train_images` class-balanced images of the search part "
            f"({images}) for up to the space's `epochs`, and after each epoch reports its accuracy on the "
            f"{searched:,} validation images to a successive-halving pruner: after "
            f"{settings.pruner.min_epochs} epoch(s), and "
            f"after {settings.pruner.reduction_factor} times as many, and so on, a trial goes on only if it "
            f"is among the best 1/{settings.pruner.reduction_factor} of the trials that reached that epoch. "
            "A model that would cost more than the space's `max_multiply_adds` per image is not trained and "
            "does not count towards `n_trials`; the sampler learns to avoid them. The winner is the "
            "complete trial with the best validation accuracy."
        )
    else:
        settings = search.grid_cv
        how = (
            f"notebook 003's protocol: every point of each space's grid scored by stratified "
            f"{settings.folds}-fold cross-validation of the search and validation images together, up to "
            f"{settings.epochs} epochs per fold, each fold stopped early on a tenth of its own training "
            "images; `accuracy` pools every fold's images, `fold_std` is the std across folds (ddof=1)."
        )
    lines = [
        "## The search",
        "",
        f"`cv_search` chose each finalist's hyperparameters on training images only. {how} "
        f"No trial saw the {split.holdout_size:,} holdout images or the test images.",
        "",
    ]
    for space, frame in results.items():
        space_params = getattr(search.spaces, space)
        untrained = frame["note"].astype("string").fillna("").str.endswith("not trained")
        states = frame.loc[~untrained, "state"].value_counts()
        complete = frame[frame["state"] == "COMPLETE"].sort_values("accuracy", ascending=False)
        best = complete.iloc[0]
        tied = int(complete["tied_with_best"].sum()) - 1
        shown = frame.sort_values(["accuracy", "trial"], ascending=[False, True]).drop(
            columns=["worker", "note", "accuracy_low", "accuracy_high"]
        )
        shown[["multiply_adds", "epochs"]] = shown[["multiply_adds", "epochs"]].astype("Int64")
        searched = shown.columns[shown.columns.get_loc("state") + 1 : shown.columns.get_loc("multiply_adds")]
        # 3 significant digits for the searched values (learning rates and decays are small) and seconds
        formats = [".3g" if column in searched or column == "seconds" else ".4f" for column in shown.columns]
        shown.insert(
            shown.columns.get_loc("accuracy") + 1,
            "95% interval",
            [
                interval(low, high) if low == low else ""
                for low, high in zip(
                    frame.loc[shown.index, "accuracy_low"],
                    frame.loc[shown.index, "accuracy_high"],
                    strict=True,
                )
            ],
        )
        lines += [
            f"### {space}",
            "",
            f"{int((~untrained).sum())} trials trained (budget {space_params.n_trials}, up to "
            f"{space_params.epochs} epochs each): {states.get('COMPLETE', 0)} complete, "
            f"{states.get('PRUNED', 0)} pruned, {states.get('FAIL', 0)} failed; {int(untrained.sum())} more "
            f"drawn over max_multiply_adds ({space_params.max_multiply_adds:,}), not trained. Best: trial "
            f"{int(best['trial'])}, validation accuracy {best['accuracy']:.4f} "
            f"{interval(best['accuracy_low'], best['accuracy_high'])} (95% Wilson interval). "
            + (
                f"{tied} other complete trial(s) are tied with it (their intervals overlap): between them "
                "the choice is noise."
                if tied
                else "No other complete trial is within its interval."
            ),
            "",
            table(shown, floatfmt=formats),
            "",
            f"Winner: `{json.dumps(configs[space])}`",
            "",
            *study_figures.get(space, []),
            "",
        ]
    return lines
