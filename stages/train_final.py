"""Stage train_final: train one search space's winner (`python -m stages.train_final
mlp` or `cnn`, reading models/best_config/SPACE.json) on every training image but the
held-out ones (data/split/search.npz and validation.npz), for train_final.SPACE's
epochs and batch size.

data/split/holdout.npz, which no search used, monitors training (as notebook 003's
Keras validation_split=0.1) and is where evaluate picks `final` between the finalists.
Writes models/SPACE_final.keras and, through dvclive, metrics/train_final/SPACE/
(metrics.json and per-epoch plots/).
"""

from stages.lib.core.artifacts import load_arrays, load_images, read_json
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.model_files import save_model
from stages.lib.core.paths import (
    DATASET_INFO,
    FINALISTS,
    SPLIT_DIR,
    best_config_path,
    model_path,
    training_log_dir,
)
from stages.lib.core.specs import validate_spec
from stages.lib.training.distribution import strategy_scope
from stages.lib.training.fitting import train


def main(args):
    params = load_params()
    settings = getattr(params.train_final, args.space)
    spec = validate_spec(read_json(best_config_path(args.space)), str(best_config_path(args.space)))
    x, y = load_images(SPLIT_DIR / "search.npz", SPLIT_DIR / "validation.npz")
    with strategy_scope(params.distribution):
        model, _ = train(
            spec,
            (x, y),
            load_arrays(SPLIT_DIR / "holdout.npz", "x", "y"),
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            seed=params.seed,
            num_classes=len(read_json(DATASET_INFO)["classes"]),
            log_dir=training_log_dir(f"{args.space}_final"),
        )
    save_model(model, model_path(f"{args.space}_final"))


if __name__ == "__main__":
    run_stage(main, __doc__, lambda parser: parser.add_argument("space", choices=FINALISTS))
