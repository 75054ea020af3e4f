"""The report's section on cv_search: how each space was searched, its trial table
and Optuna's figures of its study."""

import json
from pathlib import Path

import pandas as pd

from stages.lib.core.config import Params
from stages.lib.core.costs import budget_sentence
from stages.lib.core.decisions import sentence
from stages.lib.core.params import images_of
from stages.lib.report.figures import save_figure
from stages.lib.report.protocol import what_held
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
    summaries: dict[str, dict],
    configs: dict[str, dict],
    params: Params,
    sizes: dict[str, int],
    study_figures: dict[str, list[str]],
    duels: dict[str, dict],
) -> list[str]:
    search = params.cv_search
    if search.method == "optuna":
        settings = search.optuna
        sampler = (
            f"scrambled Sobol points (Optuna's QMCSampler, seed {params.seed})"
            if settings.sampler == "qmc"
            else f"multivariate TPE (seed {params.seed}, the first {settings.startup_trials} trials random)"
        )
        pruning = (
            "Every trial trains all its space's epochs (no pruner)."
            if settings.pruner is None
            else halving(settings.pruner.min_epochs, settings.pruner.reduction_factor)
        )
        trained = {
            space: min(
                images_of(getattr(search.spaces, space).train_images, sizes["search"]), sizes["search"]
            )
            for space in results
        }
        images = ", ".join(f"{space} {count:,}" for space, count in trained.items())
        how = (
            "Each space is an Optuna study. Its first trial is the space's default, the base model of "
            f"params.yaml (a published recipe); the others are {sampler} within the space's ranges, layer "
            "sizes on multiples of 8, every one of them within the space's budget (what its largest model "
            "may cost to train as `train_final` trains it, by the cost table). Each trial trains on "
            f"the space's `train_images` class-balanced images of the search part ({images}) and is scored "
            f"on the {sizes['validation']:,} validation images. {pruning} The best challenger replaces the "
            "default only if the rule of every choice says so: better beyond the noise (McNemar's exact test "
            f"on which validation images each gets right, p < {params.significance}), or a tie and cheaper "
            "(estimated training time per image). Where it does, `train_final` trains both in full and "
            "keeps one by the same rule on the holdout images (the duel)."
        )
    else:
        settings = search.grid_cv
        how = (
            f"notebook 003's protocol: every point of each space's grid scored by stratified "
            f"{settings.folds}-fold cross-validation of the search and validation images together, up to "
            f"{settings.epochs} epochs per fold, each fold stopped early on a tenth of its own training "
            "images; `accuracy` pools every fold's images, `fold_std` is the std across folds (ddof=1). "
            "The best is kept."
        )
    lines = [
        "## The search",
        "",
        f"`cv_search` chose each finalist's hyperparameters on training images only. {how} "
        f"No trial saw the {sizes['holdout']:,} holdout images or the test images.",
        "",
    ]
    for space, frame in results.items():
        summary, space_params = summaries[space], getattr(search.spaces, space)
        shown = frame.sort_values(["accuracy", "trial"], ascending=[False, True]).drop(
            columns=["worker", "note", "accuracy_low", "accuracy_high"]
        )
        searched = shown.columns[
            shown.columns.get_loc("default") + 1 : shown.columns.get_loc("multiply_adds")
        ]
        # 3 significant digits for the searched values (learning rates and decays are small), seconds
        # and costs
        rough = {"seconds", "microseconds_per_image"}
        formats = [".3g" if column in searched or column in rough else ".4f" for column in shown.columns]
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
            f"{summary['trials']} trials (budget {space_params.n_trials}, {space_params.epochs} epochs "
            f"each at most): {summary['complete']} complete, {summary['pruned']} pruned, "
            f"{summary['fail']} failed. " + what_it_bought(summary),
            "",
            *([f"**Budget.** {budget_sentence(summary['budget'])}", ""] if summary.get("budget") else []),
            what_held(duels[space])
            + (" (the duel, in the protocol above)." if duels[space]["duel"] else "."),
            "",
            *fidelity(summary["rank_correlation_with_score"]),
            table(shown, floatfmt=formats),
            "",
            f"Kept: `{json.dumps(configs[space])}`",
            "",
            *study_figures.get(space, []),
            "",
        ]
    return lines


def halving(min_epochs: int, factor: int) -> str:
    return (
        f"A successive-halving pruner stops a challenger after {min_epochs} epoch(s), and after {factor} "
        f"times as many, and so on, unless it is among the best 1/{factor} of the trials that "
        "reached that epoch; the default always trains in full."
    )


def what_it_bought(summary: dict) -> str:
    """The search's decision in a sentence: the default against the best challenger."""
    decision, kept = summary["decision"], summary["kept_trial"]
    if "candidates" not in decision:
        return f"Kept trial {kept}: {decision['outcome']}."
    default, challenger = decision["candidates"]["default"], decision["candidates"]["challenger"]
    bought = challenger["right"] - default["right"] if decision["kept"] == "challenger" else 0
    return (
        f"The default is trial {default['trial']}, the best challenger trial {challenger['trial']}. "
        f"{sentence(decision, 'validation images')} Trial {kept} is kept: the search bought "
        f"{bought / decision['images'] * 100:+.2f} points of validation accuracy over the default at the "
        "trials' fidelity."
    )


def fidelity(correlations: dict[str, float]) -> list[str]:
    """How well each epoch's validation accuracy ranks the complete trials by their score."""
    if not correlations:
        return []
    cells = ", ".join(f"after epoch {epoch}: {rho:.2f}" for epoch, rho in correlations.items())
    return [
        f"Spearman's rank correlation between a complete trial's validation accuracy after an early epoch "
        f"and its score (what a pruner judging there would go by): {cells}.",
        "",
    ]
