"""The training input stream: seeded, shuffled batches, each image given a fresh
random affine transform every epoch when a spec asks for augmentation."""

import math

import numpy as np

from stages.lib.core.specs import Augmentation


def training_batches(
    x: np.ndarray, y: np.ndarray, augmentation: Augmentation, batch_size: int, seed: int, first_epoch: int = 0
):
    """An endless tf.data stream of (images, labels) batches: each epoch a fresh
    shuffle and, if `augmentation` is enabled, a fresh random affine transform
    of each image; all drawn from `seed` and the epoch number, so a resumed fit
    continues the same stream."""
    import tensorflow as tf

    images, labels = tf.constant(x), tf.constant(y)

    def epoch(number):
        order = tf.argsort(tf.random.stateless_uniform([len(y)], seed=[seed, number]))
        batches = math.ceil(len(y) / batch_size)
        batch_seeds = tf.stack([tf.fill([batches], number), tf.range(batches, dtype=tf.int64)], axis=1)
        return tf.data.Dataset.zip(
            tf.data.Dataset.from_tensor_slices(order).batch(batch_size),
            tf.data.Dataset.from_tensor_slices(batch_seeds),
        )

    def load(indices, batch_seed):
        batch = tf.gather(images, indices)
        if augmentation.enabled:
            batch = random_affine(batch, augmentation, batch_seed + seed)
        return batch, tf.gather(labels, indices)

    return (
        tf.data.Dataset.range(first_epoch, 2**62)
        .flat_map(epoch)
        .map(load, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def random_affine(images, augmentation: Augmentation, seed):
    """Each image (batch, height, width) rotated, scaled and shifted about its centre
    by amounts drawn uniformly within `augmentation`'s bounds; bilinear, zero fill."""
    import keras
    import tensorflow as tf

    count, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)

    def uniform(bound, index):
        return tf.random.stateless_uniform([count], seeds[index], -bound, bound)

    angle = uniform(math.radians(augmentation.rotation), 0)
    zoom = 1.0 + uniform(augmentation.scale, 1)
    shift_x, shift_y = uniform(augmentation.shift, 2), uniform(augmentation.shift, 3)
    # The transform maps each output pixel to the input point it samples:
    # input = A (output - centre - shift) + centre, with A = rotation(-angle) / zoom.
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    from_x, from_y = centre_x + shift_x, centre_y + shift_y
    zeros = tf.zeros_like(cos)
    transform = tf.stack(
        [
            cos,
            sin,
            centre_x - cos * from_x - sin * from_y,
            -sin,
            cos,
            centre_y + sin * from_x - cos * from_y,
            zeros,
            zeros,
        ],
        axis=1,
    )
    moved = keras.ops.image.affine_transform(images[..., None], transform, fill_mode="constant")
    return moved[..., 0]
