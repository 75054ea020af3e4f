"""Seeded training of one model spec: the input pipeline (shuffling and augmentation),
the fit, and per-epoch history logged by dvclive."""

import json
import math
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from stages.lib.artifacts import atomic_path
from stages.lib.errors import DataError
from stages.lib.models import build_model, validate_spec
from stages.lib.params import integer, section, validate
from stages.lib.paths import FINALISTS

SCHEMA = {"epochs": integer(minimum=1), "batch_size": integer(minimum=1)}

# When set, every fit appends one JSON line here: its images per epoch and each epoch's
# wall time (benchmark.py reads it; the timings are kept out of the metrics, which must
# be the same on every rerun).
TIMING_LOG_ENV = "MNIST_DVC_TIMING_LOG"


def training_params(params: Mapping, name: str) -> dict:
    """A training section: a model spec, epochs and batch size."""
    return validate(section(params, name), {"model": validate_spec, **SCHEMA}, name)


def final_params(params: Mapping) -> dict:
    """train_final's section: epochs and batch size per finalist."""
    return validate(section(params, "train_final"), {
        space: lambda value, where: validate(value, SCHEMA, where) for space in FINALISTS
    }, "train_final")


def train(spec: Mapping, train_data, validation_data, *, epochs: int, batch_size: int, seed: int,
          num_classes: int, log_dir: Path | None = None, callbacks: Sequence = ()):
    """Build `spec` and fit it; returns (model, history as {metric: [per epoch]}).

    With `log_dir`, dvclive writes each epoch's train/eval loss and accuracy there
    (plots/metrics/*/*.tsv) and the last epoch's values to metrics.json.
    """
    model = new_model(spec, train_data[0], num_classes, epochs=epochs, batch_size=batch_size, seed=seed)
    history = fit(model, spec, train_data, validation_data, epochs=epochs, batch_size=batch_size,
                  seed=seed, log_dir=log_dir, callbacks=callbacks)
    return model, history


def new_model(spec: Mapping, x_train: np.ndarray, num_classes: int, *, epochs: int, batch_size: int, seed: int):
    """A freshly initialised model for training on `x_train` for `epochs`."""
    import keras

    # Seeds alone give bit-identical weights across runs here (tests check it).
    # tf.config.experimental.enable_op_determinism() would also switch oneDNN off,
    # which made a CNN training step 2.3x slower on this CPU (257 vs 112 ms).
    keras.utils.set_random_seed(seed)
    total_steps = epochs * math.ceil(len(x_train) / batch_size)
    return build_model(spec, x_train.shape[1:], num_classes, total_steps)


def fit(model, spec: Mapping, train_data, validation_data, *, epochs: int, batch_size: int, seed: int,
        initial_epoch: int = 0, log_dir: Path | None = None, callbacks: Sequence = ()) -> dict:
    """Train a built model from `initial_epoch` up to `epochs`; returns the history."""
    x_train, y_train = train_data
    timer = epoch_timer()
    callbacks = [*callbacks, timer]
    if log_dir is not None:
        from dvclive import Live
        from dvclive.keras import DVCLiveCallback

        # dvcyaml=False: dvc.yaml declares the metrics and plots; dvclive must not edit it.
        live = Live(str(log_dir), dvcyaml=False, save_dvc_exp=False)
        callbacks.append(DVCLiveCallback(live=live))
    history = model.fit(
        training_batches(x_train, y_train, spec["augmentation"], batch_size, seed, initial_epoch),
        steps_per_epoch=math.ceil(len(x_train) / batch_size),
        shuffle=False,  # the stream is shuffled already
        validation_data=validation_data,
        validation_batch_size=1024,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=2,  # one line per epoch: readable in DVC's captured logs
    )
    if os.environ.get(TIMING_LOG_ENV):
        with open(os.environ[TIMING_LOG_ENV], "a") as log:
            log.write(json.dumps({"log_dir": str(log_dir), "images": len(x_train), "epoch_seconds": timer.seconds}) + "\n")
    return history.history


def training_batches(x: np.ndarray, y: np.ndarray, augmentation: Mapping, batch_size: int, seed: int,
                     first_epoch: int = 0):
    """An endless tf.data stream of (images, labels) batches: each epoch a fresh
    shuffle and, if `augmentation` has a non-zero bound, a fresh random affine transform
    of each image; all drawn from `seed` and the epoch number, so a resumed fit
    continues the same stream."""
    import tensorflow as tf

    images, labels = tf.constant(x), tf.constant(y)

    def epoch(number):
        order = tf.argsort(tf.random.stateless_uniform([len(y)], seed=[seed, number]))
        batches = math.ceil(len(y) / batch_size)
        batch_seeds = tf.stack([tf.fill([batches], number), tf.range(batches, dtype=tf.int64)], axis=1)
        return tf.data.Dataset.zip(tf.data.Dataset.from_tensor_slices(order).batch(batch_size),
                                   tf.data.Dataset.from_tensor_slices(batch_seeds))

    def load(indices, batch_seed):
        batch = tf.gather(images, indices)
        if any(augmentation.values()):
            batch = random_affine(batch, augmentation, batch_seed + seed)
        return batch, tf.gather(labels, indices)

    return (
        tf.data.Dataset.range(first_epoch, 2**62)
        .flat_map(epoch)
        .map(load, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def random_affine(images, augmentation: Mapping, seed):
    """Each image (batch, height, width) rotated, scaled and shifted about its centre
    by amounts drawn uniformly within `augmentation`'s bounds; bilinear, zero fill."""
    import keras
    import tensorflow as tf

    count, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)

    def uniform(bound, index):
        return tf.random.stateless_uniform([count], seeds[index], -bound, bound)

    angle = uniform(math.radians(augmentation["rotation"]), 0)
    zoom = 1.0 + uniform(augmentation["scale"], 1)
    shift_x, shift_y = uniform(augmentation["shift"], 2), uniform(augmentation["shift"], 3)
    # The transform maps each output pixel to the input point it samples:
    # input = A (output - centre - shift) + centre, with A = rotation(-angle) / zoom.
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    from_x, from_y = centre_x + shift_x, centre_y + shift_y
    zeros = tf.zeros_like(cos)
    transform = tf.stack([
        cos, sin, centre_x - cos * from_x - sin * from_y,
        -sin, cos, centre_y + sin * from_x - cos * from_y,
        zeros, zeros,
    ], axis=1)
    moved = keras.ops.image.affine_transform(images[..., None], transform, fill_mode="constant")
    return moved[..., 0]


def epoch_timer():
    """A Keras callback that records each epoch's wall time (training and validation)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    return EpochTimer()


def save_model(model, path: Path) -> None:
    with atomic_path(path) as temporary:
        model.save(temporary)


def load_model(path: Path):
    """A saved Keras model, loaded in safe mode (no arbitrary code from the file)."""
    import keras

    if not Path(path).exists():
        raise DataError(f"{path} not found: run `dvc repro` to produce it")
    return keras.models.load_model(path, safe_mode=True)
