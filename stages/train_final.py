"""Stage train_final: train one search space's winner (`python -m stages.train_final
mlp` or `cnn`, reading models/best_config/SPACE.json) on every training image but the
held-out ones (data/split/search.npz and validation.npz), for train_final.SPACE's
epochs and batch size.

data/split/holdout.npz, which no search used, monitors training (as notebook 003's
Keras validation_split=0.1) and is where evaluate picks `final` between the finalists.
Writes models/SPACE_final.keras and, through dvclive, metrics/train_final/SPACE/
(metrics.json and per-epoch plots/).
"""

import numpy as np

from stages.lib.artifacts import load_arrays, read_json
from stages.lib.cli import run_stage
from stages.lib.dataset import dataset_params
from stages.lib.distribution import distribution_params, strategy_scope
from stages.lib.model_files import save_model
from stages.lib.models import validate_spec
from stages.lib.params import load_params, seed
from stages.lib.paths import FINALISTS, SPLIT_DIR, best_config_path, model_path, training_log_dir
from stages.lib.training import final_params, train


def main(args):
    params = load_params()
    settings = final_params(params)
    spec = validate_spec(read_json(best_config_path(args.space)), str(best_config_path(args.space)))
    parts = [load_arrays(SPLIT_DIR / f"{part}.npz", "x", "y") for part in ("search", "validation")]
    x, y = (np.concatenate(arrays) for arrays in zip(*parts))
    with strategy_scope(distribution_params(params)):
        model, _ = train(
            spec,
            (x, y),
            load_arrays(SPLIT_DIR / "holdout.npz", "x", "y"),
            **settings[args.space],
            seed=seed(params),
            num_classes=dataset_params(params)["num_classes"],
            log_dir=training_log_dir(f"{args.space}_final"),
        )
    save_model(model, model_path(f"{args.space}_final"))


if __name__ == "__main__":
    run_stage(main, __doc__, lambda parser: parser.add_argument("space", choices=FINALISTS))
