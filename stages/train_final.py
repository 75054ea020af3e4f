"""Stage train_final: train cv_search's winner (models/best_config.json) on all
training images (data/prepared/train.npz).

The last train_final.validation_fraction of the images are held out to monitor
training, as notebook 003's Keras validation_split=0.1. Writes models/final.keras and,
through dvclive, metrics/train_final/ (metrics.json and per-epoch plots/).
"""

from stages.lib.artifacts import load_arrays, read_json
from stages.lib.cli import run_stage
from stages.lib.dataset import dataset_params
from stages.lib.models import validate_spec
from stages.lib.params import load_params, number, section, seed, validate
from stages.lib.paths import BEST_CONFIG, METRICS_DIR, PREPARED_DIR, model_path
from stages.lib.splitting import split_indices
from stages.lib.training import SCHEMA as TRAINING_SCHEMA
from stages.lib.training import save_model, train

SCHEMA = {**TRAINING_SCHEMA, "validation_fraction": number(above=0.0, below=1.0)}


def main(args):
    params = load_params()
    settings = validate(section(params, "train_final"), SCHEMA, "train_final")
    spec = validate_spec(read_json(BEST_CONFIG), str(BEST_CONFIG))
    num_classes = dataset_params(params)["num_classes"]
    x, y = load_arrays(PREPARED_DIR / "train.npz", "x", "y")
    held_out = round(len(y) * settings["validation_fraction"])
    train_index, validation_index = split_indices(y, held_out, "last", seed(params))
    model, _ = train(
        spec,
        (x[train_index], y[train_index]),
        (x[validation_index], y[validation_index]),
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        seed=seed(params),
        num_classes=num_classes,
        log_dir=METRICS_DIR / "train_final",
    )
    save_model(model, model_path("final"))


if __name__ == "__main__":
    run_stage(main, __doc__)
