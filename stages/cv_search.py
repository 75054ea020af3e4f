"""Stage cv_search: choose the model of one search space (`python -m stages.cv_search
mlp` or `cnn`) on training images only, as an Optuna study.

cv_search.method optuna (default): the space's base model (its default) is the first
trial, then trials drawn by a seeded sampler from the space's `search` ranges, each
trained on the space's `train_images` (a count, or a fraction) of data/split/search.npz
for the space's `epochs` (fewer if the pruner stops it; never the default) and scored
on data/split/validation.npz after each epoch, within the space as stage budget fitted
it (models/search_space/SPACE.json: its size ranges lowered, where need be, until its
largest model trains as train_final trains it within max_train_final_minutes). The
best challenger replaces the default only if the rule of every decision
(stages.lib.core.decisions: McNemar's test on the validation images at
`significance`) says it is better, or a tie and cheaper.
grid_cv: notebook 003's protocol, every point of the space's `grid` scored by
stratified k-fold cross-validation of search.npz and validation.npz together. Neither
touches data/split/holdout.npz, which train_final's duel and evaluate's `final` use,
nor the test images.

The study lives in metrics/cv_search/SPACE/study.db, or in the database at
cv_search.storage ($CV_SEARCH_STORAGE overrides it), where `--worker` processes on
any machine with the repository and its data (`dvc pull`) join it. The stage ends once
the study has n_trials trials, whoever ran them, and writes
metrics/cv_search/SPACE/results.csv (one row per trial), metrics.json (the kept trial,
trials complete, pruned and failed, the decision and how well early epochs rank the
trials), study.db (a copy of the study) and
models/best_config/SPACE.json (the kept model spec, for train_final).
"""

import hashlib

import numpy as np
import optuna

from stages.lib.core.artifacts import atomic_path, load_arrays, load_images, read_json, write_csv, write_json
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.decisions import sentence
from stages.lib.core.errors import ParamsError
from stages.lib.core.params import images_of
from stages.lib.core.paths import (
    DATASET_INFO,
    FINALISTS,
    METRICS_DIR,
    SPLIT_DIR,
    best_config_path,
    search_space_path,
)
from stages.lib.data.splitting import balanced_subset
from stages.lib.search.objectives import cross_validation_objective, trial_objective
from stages.lib.search.results import decide, summary, trial_table
from stages.lib.search.spaces import fitted_space, study_name
from stages.lib.search.studies import STORAGE_ENV, n_trials, open_study, optimize, run_study, storage_url
from stages.lib.training.distribution import strategy_scope


def digest(*arrays: np.ndarray) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()


def main(args):
    params = load_params()
    search = params.cv_search
    space = fitted_space(
        args.space, getattr(search.spaces, args.space), read_json(search_space_path(args.space))
    )
    options = {"seed": params.seed, "num_classes": len(read_json(DATASET_INFO)["classes"])}
    if search.method == "optuna":
        x, y = load_arrays(SPLIT_DIR / "search.npz", "x", "y")
        validation = load_arrays(SPLIT_DIR / "validation.npz", "x", "y")
        chosen = balanced_subset(y, images_of(space.train_images, len(y)), options["seed"])
        x, y = x[chosen], y[chosen]
        data = [x, y, *validation]
    else:
        x, y = load_images(SPLIT_DIR / "search.npz", SPLIT_DIR / "validation.npz")
        data = [x, y]
    name, url = study_name(args.space, search, space, options["seed"], digest(*data)), storage_url(search)
    if args.worker and url is None:
        raise ParamsError(
            f"a worker joins a study in a shared database: set cv_search.storage or ${STORAGE_ENV} "
            "to its URL (postgresql://user:password@host/database)"
        )
    if search.method == "optuna":
        objective = trial_objective(search, space, (x, y), validation, **options)
    else:
        objective = cross_validation_objective(search, space, x, y, **options)
    with strategy_scope(params.distribution):
        if args.worker:
            study = open_study(name, url, search, space, seed=options["seed"], worker=True)
            optimize(study, objective, n_trials(search, space))
            return
        out = METRICS_DIR / "cv_search" / args.space
        with atomic_path(out / "study.db") as local:
            local_url = f"sqlite:///{local}"
            study = open_study(name, url or local_url, search, space, seed=options["seed"])
            run_study(study, objective, n_trials(search, space))
            if url is not None:
                optuna.copy_study(from_study_name=name, from_storage=url, to_storage=local_url)
            kept, decision = decide(study, search.method, params.significance)
            results = trial_table(study, kept)
            write_csv(out / "results.csv", results)
            write_json(out / "metrics.json", summary(study, kept, decision))
            write_json(best_config_path(args.space), study.trials[kept].user_attrs["spec"])
    print(results.drop(columns=["note", "worker"]).to_string(index=False))
    said = sentence(decision, "validation images") if "candidates" in decision else decision["outcome"]
    print(f"kept trial {kept}. {said}")


def arguments(parser):
    parser.add_argument("space", choices=FINALISTS)
    parser.add_argument(
        "--worker",
        action="store_true",
        help="join the space's study in cv_search.storage and run trials until it has n_trials; "
        "write nothing (the stage writes the results)",
    )


if __name__ == "__main__":
    run_stage(main, __doc__, arguments)
