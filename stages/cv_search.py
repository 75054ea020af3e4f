"""Stage cv_search: notebook 003's grid search with stratified k-fold cross-validation.

Every combination of cv_search.grid, applied over cv_search.model, is trained on each
of cv_search.folds stratified folds of all training images (data/prepared/train.npz)
with early stopping on validation accuracy. Writes metrics/cv_search/results.csv (each
candidate's fold scores, mean and std), metrics/cv_search/metrics.json (the winner's
figures) and models/best_config.json (the winning model spec, for train_final).
"""

from stages.lib.artifacts import load_arrays, write_csv, write_json
from stages.lib.cli import run_stage
from stages.lib.dataset import dataset_params
from stages.lib.params import load_params, seed
from stages.lib.paths import BEST_CONFIG, METRICS_DIR, PREPARED_DIR
from stages.lib.search import run_search, search_params


def main(args):
    params = load_params()
    settings = search_params(params)
    num_classes = dataset_params(params)["num_classes"]
    x, y = load_arrays(PREPARED_DIR / "train.npz", "x", "y")
    results = run_search(settings, x, y, seed=seed(params), num_classes=num_classes)
    best = results["mean_accuracy"].idxmax()  # the first one on a tie
    winner = results.loc[best]
    write_csv(METRICS_DIR / "cv_search" / "results.csv", results)
    write_json(METRICS_DIR / "cv_search" / "metrics.json", {
        "best_mean_accuracy": winner["mean_accuracy"],
        "best_std_accuracy": winner["std_accuracy"],
        "candidates": len(results),
    })
    write_json(BEST_CONFIG, settings["candidates"][best])


if __name__ == "__main__":
    run_stage(main, __doc__)
