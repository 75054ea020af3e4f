"""A user's picture of a digit, made into an MNIST-style 28x28 image.

MNIST's digits are white on black, fitted into a 20x20 box with their aspect ratio
kept, and centred by their centre of mass in a 28x28 image. `to_mnist` does the same to
a grayscale picture of any size and either polarity.
"""

from pathlib import Path

import numpy as np

from stages.lib.errors import DataError

SIZE, BOX = 28, 20
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")


def to_mnist(image: np.ndarray) -> np.ndarray:
    """A 28x28 float32 image in [0, 1] from a 2-D grayscale image in [0, 1]."""
    import tensorflow as tf

    image = np.asarray(image, dtype=np.float32)
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    if np.median(border) > 0.5:  # a dark digit on light paper
        image, border = 1.0 - image, 1.0 - border
    image = np.clip(image - np.median(border), 0.0, None)  # the paper becomes black
    if image.max() < 0.1:
        raise DataError("no digit found: the image is blank")
    image /= image.max()
    rows, columns = np.nonzero(image > 0.1)
    image = image[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    scale = BOX / max(image.shape)
    height, width = (max(1, round(side * scale)) for side in image.shape)
    fitted = tf.image.resize(image[..., None], (height, width), antialias=True).numpy()[..., 0]
    canvas = np.zeros((SIZE, SIZE), np.float32)
    top, left = (SIZE - height) // 2, (SIZE - width) // 2
    canvas[top:top + height, left:left + width] = fitted.clip(0.0, 1.0)
    # Move the centre of mass to the centre, by whole pixels.
    weights = canvas / canvas.sum()
    centre = [(weights.sum(axis=axis) * np.arange(SIZE)).sum() for axis in (1, 0)]
    shift = [round((SIZE - 1) / 2 - c) for c in centre]
    return np.roll(canvas, shift, axis=(0, 1))


def read_images(path: str | Path) -> np.ndarray:
    """The MNIST-style images (n, 28, 28) in a file: one from a PNG or JPEG picture, or
    every image of a .npy array of 28x28 images (floats in [0, 1] or 0-255 integers)."""
    path = Path(path)
    try:
        contents = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    if not contents:
        raise DataError(f"{path} is empty")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _array_images(path)
    if suffix not in PICTURE_SUFFIXES:
        raise DataError(f"{path}: expected a .png, .jpg, .jpeg or .npy file")
    import tensorflow as tf

    try:
        picture = tf.io.decode_image(contents, channels=1, expand_animations=False).numpy()
    except tf.errors.InvalidArgumentError:
        raise DataError(f"{path} is not a readable PNG or JPEG image") from None
    try:
        return to_mnist(picture[..., 0] / 255.0)[None]
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def _array_images(path: Path) -> np.ndarray:
    try:
        images = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{path} is not a plain numpy array file: {error}") from None
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or images.shape[1:] != (SIZE, SIZE):
        raise DataError(f"{path} holds an array of shape {images.shape}; expected (28, 28) or (n, 28, 28)")
    if np.issubdtype(images.dtype, np.integer):
        return (images / 255.0).astype(np.float32)
    if not np.issubdtype(images.dtype, np.floating) or images.min() < 0 or images.max() > 1:
        raise DataError(f"{path}: expected pixels in [0, 1] (floats) or 0-255 (integers)")
    return images.astype(np.float32)
