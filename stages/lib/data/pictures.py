"""Pictures (PNG or JPEG files) made into images like a dataset's, the same way for
preprocess (a folder dataset's files), predict (a user's pictures) and serve (uploads).

A picture is read as a person sees it: its pixel values at their real depth (a 16-bit
PNG's by 65,535, never clipped at 255), a transparent one composited onto a background
that keeps its ink ink, turned upright by its EXIF orientation, and a phone's JPEG with
more pictures after the first (MPO) by its first picture. Two preparations follow
(params.yaml's dataset.centre):
- none: the picture, in grayscale or RGB, is resized to the dataset's image size with
  its aspect ratio kept and the rest padded with black.
- mass, as MNIST's digits were made: white on black (dark ink on light paper is
  inverted), the drawing fitted into a box of 20/28 of each side with its aspect ratio
  kept, then centred by its centre of mass.
"""

import contextlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from stages.lib.core.errors import DataError

BOX_SHARE = 20 / 28  # of each side, as in MNIST
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
# As Pillow names them. MPO is a JPEG with more pictures after the first one (many phones
# and cameras write it); its first picture is the photo.
FORMATS = ("PNG", "JPEG", "MPO")
SIXTEEN_BITS = ("I;16", "I;16B", "I;16L", "I;16N")  # Pillow's modes of a 16-bit grayscale PNG
STANDS_APART = 0.25  # on_background: of the brightness range


class Preparation(NamedTuple):
    size: tuple[int, int]  # height, width
    color: str = "grayscale"  # or rgb
    centre: str = "none"  # or mass

    @property
    def shape(self) -> tuple[int, ...]:
        """One prepared image's array shape."""
        return (*self.size, 3) if self.color == "rgb" else tuple(self.size)


def open_picture(source, name: str | None = None):
    """The Pillow image of a PNG or JPEG file (a path, or a file object with `name`
    naming it in messages), fully decoded and turned upright as its EXIF orientation says
    (a phone's photos), or a DataError naming the file."""
    name = name or str(source)
    with failures_named(name), Image.open(source) as picture:
        if picture.format not in FORMATS:
            raise DataError(f"{name} is a {picture.format} image; only PNG and JPEG are read: convert it")
        picture.load()  # an MPO's first picture
        return ImageOps.exif_transpose(picture)


def picture_size(path: Path) -> tuple[int, int]:
    """A picture's (height, width), from its header alone, or a DataError naming it."""
    with failures_named(str(path)), Image.open(path) as picture:
        return picture.height, picture.width


@contextlib.contextmanager
def failures_named(name: str):
    """Any failure of Pillow (or of its EXIF handling) while reading the file `name`, as
    one DataError naming it."""
    try:
        yield
    except DataError:
        raise
    except UnidentifiedImageError:
        raise DataError(f"{name} is not a readable PNG or JPEG image: replace it, or remove it") from None
    except Image.DecompressionBombError:
        raise DataError(f"{name} has too many pixels to be decoded safely: make it smaller") from None
    except Exception as error:  # damaged data or EXIF: Pillow raises many kinds of error
        kind = type(error).__name__
        kind = kind if type(error).__module__ == "builtins" else f"{type(error).__module__}.{kind}"
        reason = f"{kind}: {error}" if str(error) else kind
        raise DataError(f"{name} cannot be decoded ({reason}): replace it, or remove it") from None


def pixels(picture, color: str) -> np.ndarray:
    """A Pillow image's float32 pixels in [0, 1], (height, width) for color grayscale or
    (height, width, 3) for rgb: 16-bit values scaled by 65,535, and a picture with an
    alpha channel or a transparent colour composited onto a background (on_background)."""
    alpha = None
    if picture.mode in SIXTEEN_BITS:
        values = np.asarray(picture)
        if "transparency" in picture.info:
            alpha = (values != picture.info["transparency"]).astype(np.float32)
        values = values.astype(np.float32) / 65535.0
        if color == "rgb":
            values = np.repeat(values[..., None], 3, axis=-1)
    elif "A" in picture.getbands() or "transparency" in picture.info:
        picture = picture.convert("RGBA")
        values = np.asarray(picture.convert("RGB" if color == "rgb" else "L"), np.float32) / 255.0
        alpha = np.asarray(picture.getchannel("A"), np.float32) / 255.0
    else:
        return np.asarray(picture.convert("RGB" if color == "rgb" else "L"), np.float32) / 255.0
    return values if alpha is None else on_background(values, alpha)


def on_background(values: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """`values` (in [0, 1]) composited by `alpha` onto the background a person would see
    them on: the colour its transparent pixels hold, where that stands apart from what can
    be seen (a transparent colour or palette index is the paper the drawing was made on,
    and its anti-aliased edges are blended with it); else the opposite of what can be seen,
    white under dark ink and black under light ink (a drawing app's or a canvas's ink with
    its edges in the alpha channel)."""
    brightness = values.mean(axis=-1) if values.ndim == 3 else values
    seen = alpha.sum()
    mean = (brightness * alpha).sum() / seen if seen else 0.0
    hidden = alpha == 0
    if hidden.any() and abs(brightness[hidden].mean() - mean) > STANDS_APART:
        background = values[hidden].mean(axis=0)
    else:
        background = 1.0 if mean < 0.5 else 0.0
    if values.ndim == 3:
        alpha = alpha[..., None]
    return (values * alpha + background * (1.0 - alpha)).astype(np.float32)


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
