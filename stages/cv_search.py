"""Stage cv_search: choose the model of one search space (`python -m stages.cv_search
mlp` or `cnn`) on training data only.

Every combination of cv_search.spaces.SPACE.grid, applied over that space's model, is
a candidate. cv_search.method halving (default) trains them on data/split/train.npz and
scores them on data/split/validation.npz by successive halving; grid_cv is notebook
003's exhaustive stratified k-fold cross-validation on data/prepared/train.npz. Writes
metrics/cv_search/SPACE/results.csv (every candidate's scores),
metrics/cv_search/SPACE/metrics.json (the winner's score) and
models/best_config/SPACE.json (the winning model spec, for train_final).
"""

from stages.lib.artifacts import load_arrays, write_csv, write_json
from stages.lib.cli import run_stage
from stages.lib.dataset import dataset_params
from stages.lib.distribution import distribution_params, strategy_scope
from stages.lib.params import load_params, seed
from stages.lib.paths import FINALISTS, METRICS_DIR, PREPARED_DIR, SPLIT_DIR, best_config_path
from stages.lib.search import grid_cv, search_params, successive_halving, winner


def main(args):
    params = load_params()
    settings = search_params(params, args.space)
    options = {"seed": seed(params), "num_classes": dataset_params(params)["num_classes"]}
    with strategy_scope(distribution_params(params)):
        if settings["method"] == "halving":
            results = successive_halving(settings, load_arrays(SPLIT_DIR / "train.npz", "x", "y"),
                                         load_arrays(SPLIT_DIR / "validation.npz", "x", "y"), **options)
        else:
            results = grid_cv(settings, *load_arrays(PREPARED_DIR / "train.npz", "x", "y"), **options)
    best = winner(results)
    out = METRICS_DIR / "cv_search" / args.space
    write_csv(out / "results.csv", results)
    write_json(out / "metrics.json", {"best_score": results.loc[best, "score"], "candidates": len(results)})
    write_json(best_config_path(args.space), settings["candidates"][best])
    print(results.to_string(index=False))


if __name__ == "__main__":
    run_stage(main, __doc__, lambda parser: parser.add_argument("space", choices=FINALISTS))
