"""A PNG or JPEG file read as a person sees it: its pixel values at their real depth (a
16-bit PNG's by 65,535, never clipped at 255), a transparent picture composited onto a
background that keeps its ink ink, turned upright by its EXIF orientation, and a phone's
JPEG with more pictures after the first (MPO) by its first picture. Any failure of
Pillow, or of its EXIF handling, is one DataError naming the file."""

import contextlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from stages.lib.core.errors import DataError

# As Pillow names them. MPO is a JPEG with more pictures after the first one (many phones
# and cameras write it); its first picture is the photo.
FORMATS = ("PNG", "JPEG", "MPO")
SIXTEEN_BITS = ("I;16", "I;16B", "I;16L", "I;16N")  # Pillow's modes of a 16-bit grayscale PNG
STANDS_APART = 0.25  # on_background: of the brightness range


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
