"""A user's picture, made into an image like the dataset's, for a trained model.

MNIST's digits are white on black, fitted into a 20x20 box with their aspect ratio
kept, and centred by their centre of mass in a 28x28 image. `to_model_input` does the
same to a grayscale picture of any size and either polarity, for a model that takes
images of any size (the box keeps MNIST's 20/28 of each side).
"""

from pathlib import Path

import numpy as np

from stages.lib.core.errors import DataError

BOX_SHARE = 20 / 28  # of each side, as in MNIST
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")


def to_model_input(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A float32 image of `shape` (height, width) in [0, 1] from a 2-D grayscale image
    in [0, 1]."""
    import tensorflow as tf

    image = np.asarray(image, dtype=np.float32)
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    if np.median(border) > 0.5:  # dark ink on light paper
        image, border = 1.0 - image, 1.0 - border
    image = np.clip(image - np.median(border), 0.0, None)  # the paper becomes black
    if image.max() < 0.1:
        raise DataError("nothing found: the image is blank")
    image /= image.max()
    rows, columns = np.nonzero(image > 0.1)
    image = image[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    scale = min(round(side * BOX_SHARE) / found for side, found in zip(shape, image.shape, strict=True))
    height, width = (max(1, round(side * scale)) for side in image.shape)
    fitted = tf.image.resize(image[..., None], (height, width), antialias=True).numpy()[..., 0]
    canvas = np.zeros(shape, np.float32)
    top, left = (shape[0] - height) // 2, (shape[1] - width) // 2
    canvas[top : top + height, left : left + width] = fitted.clip(0.0, 1.0)
    # Move the centre of mass to the centre, by whole pixels.
    weights = canvas / canvas.sum()
    centre = [
        (weights.sum(axis=axis) * np.arange(side)).sum() for axis, side in zip((1, 0), shape, strict=True)
    ]
    shift = [round((side - 1) / 2 - c) for side, c in zip(shape, centre, strict=True)]
    return np.roll(canvas, shift, axis=(0, 1))


def read_images(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """The model inputs (n, *shape) in a file: one from a PNG or JPEG picture, or every
    image of a .npy array of such images (floats in [0, 1] or 0-255 integers)."""
    path = Path(path)
    try:
        contents = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    if not contents:
        raise DataError(f"{path} is empty")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _array_images(path, tuple(shape))
    if suffix not in PICTURE_SUFFIXES:
        raise DataError(f"{path}: expected a .png, .jpg, .jpeg or .npy file")
    import tensorflow as tf

    try:
        picture = tf.io.decode_image(contents, channels=1, expand_animations=False).numpy()
    except tf.errors.InvalidArgumentError:
        raise DataError(f"{path} is not a readable PNG or JPEG image") from None
    try:
        return to_model_input(picture[..., 0] / 255.0, shape)[None]
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def _array_images(path: Path, shape: tuple[int, int]) -> np.ndarray:
    try:
        images = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{path} is not a plain numpy array file: {error}") from None
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or images.shape[1:] != shape:
        raise DataError(
            f"{path} holds an array of shape {images.shape}; expected {shape} or (n, {shape[0]}, {shape[1]})"
        )
    if np.issubdtype(images.dtype, np.integer):
        return (images / 255.0).astype(np.float32)
    if not np.issubdtype(images.dtype, np.floating) or images.min() < 0 or images.max() > 1:
        raise DataError(f"{path}: expected pixels in [0, 1] (floats) or 0-255 (integers)")
    return images.astype(np.float32)
