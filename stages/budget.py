"""Stage budget: fit each search space to what train_final may spend on its largest model.

With cv_search.method optuna, each space's size ranges are lowered, where need be,
until its largest model trains as train_final trains it (train_final.SPACE's epochs
and batch size, on data/split/search.npz and validation.npz) within the space's
max_train_final_minutes by the cost table (stages/lib/core/costs.py); a space whose
default alone is over stops here, naming the minutes it needs. grid_cv's spaces are
kept as they are. Writes models/search_space/SPACE.json (the space as params.yaml has
it, and as fitted: what cv_search searches) and metrics/budget.json (what each budget
allowed). A train_final change that leaves a fitted space as it was (fewer epochs,
say) leaves that cv_search's results in place.
"""

from stages.lib.core.artifacts import load_arrays, read_json, write_json
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.costs import budget_sentence
from stages.lib.core.paths import BUDGET, DATASET_INFO, FINALISTS, SPLIT_DIR, search_space_path
from stages.lib.search.spaces import check_space, fit_budget


def main(args):
    params = load_params()
    x, y = load_arrays(SPLIT_DIR / "search.npz", "x", "y")
    (validation,) = load_arrays(SPLIT_DIR / "validation.npz", "y")
    budgets = {}
    for name in FINALISTS:
        space = params_space = getattr(params.cv_search.spaces, name)
        budgets[name] = None
        if params.cv_search.method == "optuna":
            check_space(name, space)
            final = getattr(params.train_final, name)
            space, budgets[name] = fit_budget(
                name,
                space,
                x.shape[1:],
                len(read_json(DATASET_INFO)["classes"]),
                images=len(y) + len(validation),  # train_final's: the search and validation images
                epochs=final.epochs,
                batch_size=final.batch_size,
            )
            print(f"cv_search.spaces.{name}'s budget: {budget_sentence(budgets[name])}")
        write_json(
            search_space_path(name), {"params": params_space.model_dump(), "fitted": space.model_dump()}
        )
    write_json(BUDGET, budgets)


if __name__ == "__main__":
    run_stage(main, __doc__)
