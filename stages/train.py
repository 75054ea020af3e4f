"""Stages train_baseline and train_big: train notebook 000's dense models.

`python -m stages.train baseline` trains params.yaml's train_baseline section on
data/split/train.npz, validating on data/split/validation.npz after every epoch.
Writes models/NAME.keras and, through dvclive, metrics/train_NAME/ (metrics.json with
the last epoch's figures; plots/ with each epoch's loss and accuracy).
"""

from stages.lib.core.artifacts import load_arrays, read_json
from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.model_files import save_model
from stages.lib.core.paths import DATASET_INFO, SPLIT_DIR, model_path, training_log_dir
from stages.lib.training.distribution import strategy_scope
from stages.lib.training.fitting import train

MODELS = ("baseline", "big")


def main(args):
    params = load_params()
    settings = getattr(params, f"train_{args.model}")
    with strategy_scope(params.distribution):
        model, _ = train(
            settings.model,
            load_arrays(SPLIT_DIR / "train.npz", "x", "y"),
            load_arrays(SPLIT_DIR / "validation.npz", "x", "y"),
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            seed=params.seed,
            num_classes=len(read_json(DATASET_INFO)["classes"]),
            log_dir=training_log_dir(args.model),
        )
    save_model(model, model_path(args.model))


if __name__ == "__main__":
    run_stage(main, __doc__, lambda parser: parser.add_argument("model", choices=MODELS))
