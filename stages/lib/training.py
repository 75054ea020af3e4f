"""Seeded training of one model spec, with per-epoch history logged by dvclive."""

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from stages.lib.artifacts import atomic_path
from stages.lib.errors import DataError
from stages.lib.models import build_model, validate_spec
from stages.lib.params import integer, section, validate

SCHEMA = {"epochs": integer(minimum=1), "batch_size": integer(minimum=1)}


def training_params(params: Mapping, name: str) -> dict:
    """A training section: a model spec, epochs and batch size."""
    return validate(section(params, name), {"model": validate_spec, **SCHEMA}, name)


def train(
    spec: Mapping,
    train_data: tuple[np.ndarray, np.ndarray],
    validation_data: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    num_classes: int,
    log_dir: Path | None = None,
    callbacks: Sequence = (),
):
    """Build `spec` and fit it; returns (model, history as {metric: [per epoch]}).

    With `log_dir`, dvclive writes each epoch's train/eval loss and accuracy there
    (plots/metrics/*/*.tsv) and the last epoch's values to metrics.json.
    """
    import keras

    # Seeds alone give bit-identical weights across runs here (tests check it).
    # tf.config.experimental.enable_op_determinism() would also switch oneDNN off,
    # which makes the CNNs 2-4x slower on CPU.
    keras.utils.set_random_seed(seed)
    x_train, y_train = train_data
    model = build_model(spec, x_train.shape[1:], num_classes)
    callbacks = list(callbacks)
    if log_dir is not None:
        from dvclive import Live
        from dvclive.keras import DVCLiveCallback

        # dvcyaml=False: dvc.yaml declares the metrics and plots; dvclive must not edit it.
        live = Live(str(log_dir), dvcyaml=False, save_dvc_exp=False)
        callbacks.append(DVCLiveCallback(live=live))
    history = model.fit(
        x_train,
        y_train,
        validation_data=validation_data,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=callbacks,
        verbose=2,  # one line per epoch: readable in DVC's captured logs
    )
    return model, history.history


def save_model(model, path: Path) -> None:
    with atomic_path(path) as temporary:
        model.save(temporary)


def load_model(path: Path):
    """A saved Keras model, loaded in safe mode (no arbitrary code from the file)."""
    import keras

    if not Path(path).exists():
        raise DataError(f"{path} not found: run `dvc repro` to produce it")
    return keras.models.load_model(path, safe_mode=True)
