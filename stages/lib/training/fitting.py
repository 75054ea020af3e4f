"""Seeded training of one model spec: a fresh model, its fit on the training input
stream, and per-epoch history logged by dvclive."""

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from stages.lib.core.specs import ModelSpec
from stages.lib.training.batches import training_batches
from stages.lib.training.models import build_model


def train(
    spec: ModelSpec,
    train_data,
    validation_data,
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
    model = new_model(spec, train_data[0], num_classes, epochs=epochs, batch_size=batch_size, seed=seed)
    history = fit(
        model,
        spec,
        train_data,
        validation_data,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        log_dir=log_dir,
        callbacks=callbacks,
    )
    return model, history


def new_model(
    spec: ModelSpec, x_train: np.ndarray, num_classes: int, *, epochs: int, batch_size: int, seed: int
):
    """A freshly initialised model for training on `x_train` for `epochs`."""
    import keras

    # Seeds alone give bit-identical weights across runs here (tests check it).
    # tf.config.experimental.enable_op_determinism() would also switch oneDNN off,
    # which made a CNN training step 2.3x slower on this CPU (257 vs 112 ms).
    keras.utils.set_random_seed(seed)
    total_steps = epochs * math.ceil(len(x_train) / batch_size)
    return build_model(spec, x_train.shape[1:], num_classes, total_steps)


def fit(
    model,
    spec: ModelSpec,
    train_data,
    validation_data,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    initial_epoch: int = 0,
    log_dir: Path | None = None,
    callbacks: Sequence = (),
) -> dict:
    """Train a built model from `initial_epoch` up to `epochs`, scored on
    `validation_data` after each epoch unless it is None; returns the history."""
    x_train, y_train = train_data
    classes = model.output_shape[-1]
    if validation_data is not None:
        x_validation, y_validation = validation_data
        validation_data = (x_validation, one_hot(y_validation, classes))
    callbacks = list(callbacks)
    if log_dir is not None:
        from dvclive import Live
        from dvclive.keras import DVCLiveCallback

        # dvcyaml=False: dvc.yaml declares the metrics and plots; dvclive must not edit it.
        live = Live(str(log_dir), dvcyaml=False, save_dvc_exp=False)
        callbacks.append(DVCLiveCallback(live=live))
    history = model.fit(
        training_batches(
            x_train, one_hot(y_train, classes), spec.augmentation, batch_size, seed, initial_epoch
        ),
        steps_per_epoch=math.ceil(len(x_train) / batch_size),
        shuffle=False,  # the stream is shuffled already
        validation_data=validation_data,
        validation_batch_size=1024,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=2,  # one line per epoch: readable in DVC's captured logs
    )
    return history.history


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """Integer labels as rows of the identity (what the loss compares with)."""
    return np.eye(classes, dtype=np.float32)[labels]
