"""The training input stream: seeded, shuffled batches, each image given a fresh
random affine transform, flip and brightness/contrast jitter every epoch, as far as a
spec's augmentation asks for them."""

import math
import os

import numpy as np

from stages.lib.core.specs import Augmentation


def training_batches(
    x: np.ndarray,
    y: np.ndarray,
    augmentation: Augmentation | dict[str, Augmentation],
    batch_size: int,
    seed: int,
    first_epoch: int = 0,
):
    """An endless tf.data stream of (images, labels) batches: each epoch a fresh
    shuffle and, if `augmentation` is enabled, a fresh random affine transform
    of each image; all drawn from `seed` and the epoch number, so a resumed fit
    continues the same stream. With a dict of augmentations (name: augmentation), the
    images are a dict of the same batch augmented by each, all from the same draws:
    what each would see in a stream of its own."""
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

    def augmented(batch, augmentation: Augmentation, batch_seed):
        if augmentation.affine:
            batch = distort(batch, augmentation, batch_seed + seed)
        if augmentation.photometric:
            batch = flip_and_jitter(batch, augmentation, batch_seed + seed)
        return batch

    def load(indices, batch_seed):
        batch = tf.gather(images, indices)
        if isinstance(augmentation, dict):
            batch = {name: augmented(batch, each, batch_seed) for name, each in augmentation.items()}
        else:
            batch = augmented(batch, augmentation, batch_seed)
        return batch, tf.gather(labels, indices)

    # Fixed parallelism, not tf.data's autotuner: TensorFlow 2.21's iterator waits, when
    # destroyed, for the autotuner's thread to wake from a sleep that doubles up to 60 s,
    # so a fit returned up to a minute after its last epoch (docs/measurements.md).
    options = tf.data.Options()
    options.autotune.enabled = False
    return (
        tf.data.Dataset.range(first_epoch, 2**62)
        .flat_map(epoch)
        .map(load, num_parallel_calls=os.cpu_count())
        .prefetch(os.cpu_count())
        .with_options(options)
    )


def distort(images, augmentation: Augmentation, seed):
    """Each image (batch, height, width, or with channels last) rotated, scaled and shifted about its centre
    by amounts drawn uniformly within `augmentation`'s bounds, then moved by a smooth
    random displacement field if it asks for elastic distortion; bilinear, zero fill."""
    import tensorflow as tf

    count, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 6)

    def uniform(bound, index, shape=None):
        return tf.random.stateless_uniform(shape or [count], seeds[index], -bound, bound)

    angle = uniform(math.radians(augmentation.rotation), 0)[:, None, None]
    zoom = 1.0 + uniform(augmentation.scale, 1)[:, None, None]
    shift_x, shift_y = (
        uniform(augmentation.shift, 2)[:, None, None],
        uniform(augmentation.shift, 3)[:, None, None],
    )
    # Each output pixel samples the input at A (output - centre - shift) + centre, with
    # A = rotation(-angle) / zoom, plus the elastic displacement there.
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    if not augmentation.elastic:
        # One affine map per image: TensorFlow's fused kernel (bilinear, zero fill) does
        # in one pass what the gathers below do in a dozen.
        from_centre_x, from_centre_y = centre_x + shift_x, centre_y + shift_y
        transforms = tf.concat(
            [
                cos,
                sin,
                centre_x - cos * from_centre_x - sin * from_centre_y,
                -sin,
                cos,
                centre_y + sin * from_centre_x - cos * from_centre_y,
                tf.zeros_like(cos),
                tf.zeros_like(cos),
            ],
            axis=1,
        )[:, :, 0]
        gray = len(images.shape) == 3
        moved = tf.raw_ops.ImageProjectiveTransformV3(
            images=images[..., None] if gray else images,
            transforms=transforms,
            output_shape=[height, width],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="CONSTANT",
        )
        return moved[..., 0] if gray else moved
    rows, columns = tf.meshgrid(
        tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij"
    )
    x, y = columns - centre_x - shift_x, rows - centre_y - shift_y
    from_x, from_y = cos * x + sin * y + centre_x, -sin * x + cos * y + centre_y
    field = uniform(1.0, 4, [count, height, width, 2])
    field = gaussian_blur(field, augmentation.elastic_sigma) * augmentation.elastic
    return bilinear(images, from_x + field[..., 0], from_y + field[..., 1])


def flip_and_jitter(images, augmentation: Augmentation, seed):
    """Each image (batch, height, width, or with channels last) mirrored left-right with
    probability 1/2 if `augmentation.flip`, then its brightness shifted by up to
    +-brightness and its contrast scaled by 1 +- contrast about its mean (each channel's,
    as tf.image.adjust_contrast), drawn uniformly per image, and clipped to [0, 1].
    TensorFlow's stateless_random_brightness and _contrast draw one value for a whole
    batch, hence the per-image arithmetic here."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(tf.random.experimental.stateless_fold_in(seed, 1), 3)
    gray = len(images.shape) == 3
    if gray:
        images = images[..., None]
    if augmentation.flip:
        images = tf.image.stateless_random_flip_left_right(images, seeds[0])
    count = tf.shape(images)[0]
    if augmentation.contrast:
        factor = 1.0 + tf.random.stateless_uniform(
            [count, 1, 1, 1], seeds[1], -augmentation.contrast, augmentation.contrast
        )
        mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
        images = (images - mean) * factor + mean
    if augmentation.brightness:
        images += tf.random.stateless_uniform(
            [count, 1, 1, 1], seeds[2], -augmentation.brightness, augmentation.brightness
        )
    if augmentation.brightness or augmentation.contrast:
        images = tf.clip_by_value(images, 0.0, 1.0)
    return images[..., 0] if gray else images


def gaussian_blur(field, sigma: float):
    """Each channel of `field` (batch, height, width, channels) smoothed by a Gaussian
    of `sigma` pixels (cut at 3 sigma), zero outside (scipy's mode="constant")."""
    import tensorflow as tf

    radius = math.ceil(3 * sigma)
    taps = tf.exp(-0.5 * (tf.range(-radius, radius + 1, dtype=tf.float32) / sigma) ** 2)
    taps = taps / tf.reduce_sum(taps)
    channels = field.shape[-1]
    down = tf.tile(tf.reshape(taps, [-1, 1, 1, 1]), [1, 1, channels, 1])
    across = tf.reshape(down, [1, -1, channels, 1])
    field = tf.nn.depthwise_conv2d(field, down, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d(field, across, [1, 1, 1, 1], "SAME")


def bilinear(images, from_x, from_y):
    """images (batch, height, width, or with channels last) sampled at the points
    (from_x, from_y) (batch, height, width), one per output pixel, by bilinear
    interpolation; 0 outside the image. Every channel moves alike."""
    import tensorflow as tf

    if len(images.shape) == 4:
        return tf.stack([bilinear(images[..., c], from_x, from_y) for c in range(images.shape[3])], axis=-1)
    count, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    flat = tf.reshape(images, [-1])
    base = tf.range(count)[:, None, None] * height * width
    left, top = tf.floor(from_x), tf.floor(from_y)
    result = tf.zeros_like(from_x)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        column, row = left + dx, top + dy
        weight = (1 - tf.abs(from_x - column)) * (1 - tf.abs(from_y - row))
        inside = (column >= 0) & (column <= width - 1) & (row >= 0) & (row <= height - 1)
        index = base + tf.cast(tf.clip_by_value(row, 0, height - 1), tf.int32) * width
        index += tf.cast(tf.clip_by_value(column, 0, width - 1), tf.int32)
        result += tf.where(inside, weight * tf.gather(flat, index), 0.0)
    return result
