"""Seeded training of one model spec: a fresh model, its fit on the training input
stream, and per-epoch history logged by dvclive."""

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from stages.lib.core.costs import training_seconds
from stages.lib.core.specs import Augmentation, ModelSpec
from stages.lib.training.batches import training_batches
from stages.lib.training.models import build_model, steps_per_execution


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
        spec.augmentation,
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
    steps = math.ceil(len(x_train) / batch_size)
    model = build_model(spec, x_train.shape[1:], num_classes, epochs * steps)
    step_seconds = training_seconds(
        spec, x_train.shape[1:], num_classes, batch_size=batch_size, images=batch_size, epochs=1
    )
    model.steps_per_execution = steps_per_execution(step_seconds, steps)
    return model


def fit(
    model,
    augmentation: Augmentation | dict[str, Augmentation],
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
    """Train a built model from `initial_epoch` up to `epochs`, its training images
    augmented by `augmentation` (for a model of jointly(): each member's, by name),
    scored on `validation_data` after each epoch unless it is None; returns the history."""
    x_train, y_train = train_data
    classes = model.output_shape[-1]
    if validation_data is not None:
        x_validation, y_validation = validation_data
        validation_data = (x_validation, one_hot(y_validation, classes))
    callbacks = list(callbacks)
    if log_dir is not None:
        callbacks += live_logs(model, log_dir)
    history = model.fit(
        training_batches(x_train, one_hot(y_train, classes), augmentation, batch_size, seed, initial_epoch),
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


def live_logs(model, log_dir: Path) -> list:
    """dvclive's Keras callback writing each epoch's train/eval loss and accuracy to
    `log_dir` (plots/metrics/*/*.tsv, metrics.json); for a model of jointly(), one per
    member, in log_dir/NAME, each member's logs named as if it trained alone."""
    from dvclive import Live
    from dvclive.keras import DVCLiveCallback

    # dvcyaml=False: dvc.yaml declares the metrics and plots; dvclive must not edit it.
    def live(folder: Path):
        return Live(str(folder), dvcyaml=False, save_dvc_exp=False)

    class MemberLogs(DVCLiveCallback):
        def __init__(self, member: str):
            super().__init__(live=live(Path(log_dir) / member))
            self.member = member

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, member_logs(logs or {}, self.member))

    if not hasattr(model, "members"):
        return [DVCLiveCallback(live=live(Path(log_dir)))]
    return [MemberLogs(member) for member in model.members]


def member_logs(logs: dict, member: str) -> dict:
    """The logs of jointly()'s `member` ("NAME/loss", "val_NAME/loss") as a model
    trained alone names them ("loss", "val_loss")."""
    named = {}
    for key, value in logs.items():
        prefix, _, metric = key.rpartition("/")
        if prefix in (member, f"val_{member}"):
            named[metric if prefix == member else f"val_{metric}"] = value
    return named


def jointly(models: dict):
    """One Keras model that trains compiled `models` (name: model, each with its own
    optimizer, loss and metrics) on the same batches in one compiled step, as each
    alone would: one input stream for all, and their independent work side by side on
    the cores. Its logs are each model's, named "NAME/loss" and so on."""
    import keras

    class Joint(keras.Model):
        def __init__(self):
            super().__init__(name="jointly")
            self.members = models

        @property
        def output_shape(self):  # what each member predicts: one probability per class
            return next(iter(self.members.values())).output_shape

        @property
        def metrics(self):
            return [metric for model in self.members.values() for metric in model.metrics]

        def call(self, x, training=False):
            return {name: model(x, training=training) for name, model in self.members.items()}

        def train_step(self, data):
            return self._each("train_step", data)

        def test_step(self, data):
            return self._each("test_step", data)

        def _each(self, step: str, data) -> dict:
            # Training batches hold each member's own augmented images, by name.
            x, y = data
            return {
                f"{name}/{key}": value
                for name, model in self.members.items()
                for key, value in getattr(model, step)((x[name] if isinstance(x, dict) else x, y)).items()
            }

        def fit(self, *args, **kwargs):
            history = super().fit(*args, **kwargs)
            for model in self.members.values():  # what Keras' fit does for one model
                model.optimizer.finalize_variable_values(model.trainable_weights)
            return history

    joint = Joint()
    for model in models.values():
        model.optimizer.build(model.trainable_variables)
    joint.compile(  # each member's own optimizer updates it
        optimizer="sgd",
        jit_compile=False,
        steps_per_execution=min(model.steps_per_execution for model in models.values()),
    )
    return joint


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """Integer labels as rows of the identity (what the loss compares with)."""
    return np.eye(classes, dtype=np.float32)[labels]
