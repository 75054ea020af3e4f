"""Pictures (PNG or JPEG files) made into images like a dataset's, the same way for
preprocess (a folder dataset's files) and predict (a user's pictures).

Two preparations (params.yaml's dataset.centre):
- none: the picture, in grayscale or RGB, is resized to the dataset's image size with
  its aspect ratio kept and the rest padded with black.
- mass, as MNIST's digits were made: white on black (dark ink on light paper is
  inverted), the drawing fitted into a box of 20/28 of each side with its aspect ratio
  kept, then centred by its centre of mass.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from stages.lib.core.errors import DataError

BOX_SHARE = 20 / 28  # of each side, as in MNIST
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
FORMATS = ("PNG", "JPEG")  # as Pillow names them


class Preparation(NamedTuple):
    size: tuple[int, int]  # height, width
    color: str = "grayscale"  # or rgb
    centre: str = "none"  # or mass

    @property
    def shape(self) -> tuple[int, ...]:
        """One prepared image's array shape."""
        return (*self.size, 3) if self.color == "rgb" else tuple(self.size)


def open_picture(path: Path):
    """The Pillow image of a PNG or JPEG file, fully decoded and turned upright as its
    EXIF orientation says (a phone's photos), or a DataError naming the file."""
    try:
        with Image.open(path) as picture:
            if picture.format not in FORMATS:
                raise DataError(f"{path} is a {picture.format} image; only PNG and JPEG are read: convert it")
            picture.load()
            return ImageOps.exif_transpose(picture)
    except UnidentifiedImageError:
        raise DataError(f"{path} is not a readable PNG or JPEG image: replace it, or remove it") from None
    except (OSError, SyntaxError, ValueError) as error:  # truncated or damaged data
        raise DataError(f"{path} cannot be decoded ({error}): replace it, or remove it") from None


def prepare(picture, preparation: Preparation) -> np.ndarray:
    """A float32 image in [0, 1] of `preparation.shape` from a Pillow image."""
    if preparation.centre == "mass":
        return to_model_input(np.asarray(picture.convert("L"), np.float32) / 255.0, preparation.size)
    picture = picture.convert("RGB" if preparation.color == "rgb" else "L")
    height, width = preparation.size
    padded = ImageOps.pad(picture, (width, height), color=0)
    return np.asarray(padded, np.float32) / 255.0


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
    rows, columns = np.nonzero(image > 0.1)
    image = image[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
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
