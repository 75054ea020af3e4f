"""Stage train_final: train one search space's finalist (`python -m stages.train_final
mlp` or `cnn`) on every training image but the held-out ones (data/split/search.npz
and validation.npz), for train_final.SPACE's epochs and batch size.

Where cv_search kept a challenger (models/best_config/SPACE.json) over the space's
default (cv_search.spaces.SPACE.model), both are trained so, and the rule of every
decision (`significance`: McNemar's test, else the cheaper; the two averaged, one Keras
model, where they tie) keeps one, or both averaged, on data/split/holdout.npz, which no
search used: the duel. Otherwise the spec cv_search kept is trained alone. The holdout
images also monitor training (as notebook 003's Keras validation_split=0.1), and
evaluate picks `final` among the finalists and their average on them.
Writes models/SPACE_final.keras and, in metrics/train_final/SPACE/, duel.json (the
duel as recorded, or why there was none) and, through dvclive, the kept model's (an
average's: the member the pair's rule kept) metrics.json and per-epoch plots/.
"""

from stages.lib.core.artifacts import load_arrays, load_images, read_json, write_json
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.decisions import sentence
from stages.lib.core.model_files import save_model
from stages.lib.core.paths import (
    DATASET_INFO,
    FINALISTS,
    SPLIT_DIR,
    best_config_path,
    duel_path,
    model_path,
    training_log_dir,
)
from stages.lib.core.specs import validate_spec
from stages.lib.training.distribution import strategy_scope
from stages.lib.training.duel import candidates, train_finalist


def main(args):
    params = load_params()
    settings = getattr(params.train_final, args.space)
    searched = validate_spec(read_json(best_config_path(args.space)), str(best_config_path(args.space)))
    default = getattr(params.cv_search.spaces, args.space).model
    with strategy_scope(params.distribution):
        model, duel = train_finalist(
            candidates(params.cv_search.method, default, searched),
            load_images(SPLIT_DIR / "search.npz", SPLIT_DIR / "validation.npz"),
            load_arrays(SPLIT_DIR / "holdout.npz", "x", "y"),
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            seed=params.seed,
            num_classes=len(read_json(DATASET_INFO)["classes"]),
            significance=params.significance,
            log_dir=training_log_dir(f"{args.space}_final"),
        )
    save_model(model, model_path(f"{args.space}_final"))
    write_json(duel_path(args.space), duel)
    print(sentence(duel, "holdout images") if duel["duel"] else duel["outcome"])


if __name__ == "__main__":
    run_stage(main, __doc__, lambda parser: parser.add_argument("space", choices=FINALISTS))
