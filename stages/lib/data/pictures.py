"""Pictures (PNG or JPEG files, read as a person sees them by stages.lib.data.reading) made
into images like a dataset's, the same way for preprocess (a folder dataset's files),
predict (a user's pictures) and serve (uploads). Two preparations (params.yaml's
dataset.centre):
- none: the picture, in grayscale or RGB, is resized to the dataset's image size with
  its aspect ratio kept and the rest padded with black.
- mass, as MNIST's digits were made: white on black (dark ink on light paper is
  inverted), the drawing fitted into a box of 20/28 of each side with its aspect ratio
  kept, then centred by its centre of mass.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps

from stages.lib.core.errors import DataError
from stages.lib.data.reading import open_picture, pixels

BOX_SHARE = 20 / 28  # of each side, as in MNIST
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")


class Preparation(NamedTuple):
    size: tuple[int, int]  # height, width
    color: str = "grayscale"  # or rgb
    centre: str = "none"  # or mass

    @property
    def shape(self) -> tuple[int, ...]:
        """One prepared image's array shape."""
        return (*self.size, 3) if self.color == "rgb" else tuple(self.size)


def prepare(picture, preparation: Preparation) -> np.ndarray:
    """A float32 image in [0, 1] of `preparation.shape` from a Pillow image."""
    if preparation.centre == "mass":
        return to_model_input(pixels(picture, "grayscale"), preparation.size)
    return pad_to(pixels(picture, preparation.color), preparation.size)


def pad_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` resized to `size` (height, width) with its aspect ratio kept, the rest
    padded with black; each channel in float (bicubic, as Pillow's ImageOps.pad)."""
    height, width = size
    channels = image[..., None] if image.ndim == 2 else image
    padded = np.stack(
        [
            np.asarray(ImageOps.pad(Image.fromarray(channels[..., c].copy(), "F"), (width, height), color=0))
            for c in range(channels.shape[-1])
        ],
        axis=-1,
    )
    return np.clip(padded.reshape(*size, *image.shape[2:]), 0.0, 1.0)


def to_model_input(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A float32 image of `shape` (height, width) in [0, 1] from a 2-D grayscale image
    in [0, 1], prepared as MNIST's digits were."""
    image = np.asarray(image, dtype=np.float32)
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    if np.median(border) > 0.5:  # dark ink on light paper
        image, border = 1.0 - image, 1.0 - border
    image = np.clip(image - np.median(border), 0.0, None)  # the paper becomes black
    if image.max() < 0.1:
        raise DataError("nothing found: the image is blank")
    image /= image.max()
    ink = image > 0.1
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    image = image[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    scale = min(round(side * BOX_SHARE) / found for side, found in zip(shape, image.shape, strict=True))
    height, width = (max(1, round(side * scale)) for side in image.shape)
    fitted = np.asarray(Image.fromarray(image, "F").resize((width, height), Image.Resampling.BILINEAR))
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


def read_images(path: str | Path, preparation: Preparation) -> np.ndarray:
    """The model inputs (n, *preparation.shape) in a file: one from a PNG or JPEG
    picture, or every image of a .npy array of such images (floats in [0, 1] or 0-255
    integers), already prepared."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"cannot read {path}: No such file or directory")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _array_images(path, preparation.shape)
    if suffix not in PICTURE_SUFFIXES:
        raise DataError(f"{path}: expected a .png, .jpg, .jpeg or .npy file")
    try:
        return prepare(open_picture(path), preparation)[None]
    except DataError as error:
        raise DataError(str(error) if str(path) in str(error) else f"{path}: {error}") from None


def _array_images(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    try:
        images = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{path} is not a plain numpy array file: {error}") from None
    if images.shape == shape:
        images = images[None]
    if images.shape[1:] != shape:
        batch = f"(n, {', '.join(map(str, shape))})"
        raise DataError(f"{path} holds an array of shape {images.shape}; expected {shape} or {batch}")
    if np.issubdtype(images.dtype, np.integer):
        return (images / 255.0).astype(np.float32)
    if not np.issubdtype(images.dtype, np.floating) or images.min() < 0 or images.max() > 1:
        raise DataError(f"{path}: expected pixels in [0, 1] (floats) or 0-255 (integers)")
    return images.astype(np.float32)
