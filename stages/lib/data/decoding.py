"""A folder dataset's pictures (stages.lib.data.folders lists them) decoded into arrays of
one image size: the size chosen by dataset.image_size, then one picture at a time into
arrays made up front, with a progress line every few seconds."""

import logging
import time
from collections import Counter

import numpy as np

from stages.lib.core.errors import DataError, ParamsError
from stages.lib.data.folders import Listing
from stages.lib.data.pictures import Preparation, prepare
from stages.lib.data.reading import open_picture, picture_size

log = logging.getLogger(__name__)

DEFAULT_SIZE = (28, 28)  # image_size auto, where no size is shared by half the images
# image_size auto: the longest side it keeps; larger pictures are made smaller, their aspect
# ratio kept. A 64x64 RGB picture costs the default CNN 5.2 times a 28x28 digit to train
# (the cost table), so 54,000 of them would not fit its budget (docs/datasets.md).
MAX_AUTO_SIDE = 64
MAX_BYTES = 4 << 30  # the prepared arrays' size, above which preprocess stops
PROGRESS_SECONDS = 5.0


def choose_size(sizes: list[tuple[int, int]], image_size, where: dict) -> tuple[tuple[int, int], str]:
    """The image size (height, width) and why, for dataset.image_size: a size, "keep"
    (every picture must have one size) or "auto" (the size of half the pictures or more,
    else 28x28; where the most common size has a side over MAX_AUTO_SIDE, that size made
    smaller to MAX_AUTO_SIDE, its aspect ratio kept). `where` maps each size to a picture
    of it."""
    counts = Counter(sizes)
    common, count = counts.most_common(1)[0]
    share = f"{count:,} of {len(sizes):,} pictures"
    if isinstance(image_size, list):
        most = f"{common[0]}x{common[1]}, that of {share}"
        return tuple(image_size), f"set by dataset.image_size; the most common size was {most}"
    if len(counts) == 1:
        reason = "every picture's size"
    elif image_size == "keep":
        other = next(size for size in counts if size != common)
        raise DataError(
            f"{where[other]} is {other[0]}x{other[1]} pixels, but {share} are {common[0]}x{common[1]}: with "
            "dataset.image_size keep, every picture needs one size; resize it, or set dataset.image_size "
            f"to a size such as [{common[0]}, {common[1]}] (or auto) to resize them"
        )
    elif 2 * count >= len(sizes):
        reason = f"the most common size, that of {share}"
    else:
        return DEFAULT_SIZE, f"28x28, as sizes vary: {len(counts)} sizes, the most common that of {share}"
    if image_size == "keep" or max(common) <= MAX_AUTO_SIDE:
        return common, reason
    size = tuple(max(1, round(side * MAX_AUTO_SIDE / max(common))) for side in common)
    return size, (
        f"most pictures are {common[0]}x{common[1]}, {share}, made smaller to train in the budget: "
        f"image_size auto keeps at most {MAX_AUTO_SIDE} pixels a side; set dataset.image_size to change it"
    )


def load_pictures(listing: Listing, image_size, color: str, centre: str) -> tuple[dict, dict]:
    """{"train": (x, y), "test": (x, y)} as float32 images in [0, 1] and uint8 labels, and
    how the size was chosen; decodes one picture at a time into arrays made up front."""
    everything = [item for part in listing.parts.values() for item in part]
    sizes, where = [], {}
    for picture, _ in everything:
        size = picture_size(picture)
        sizes.append(size)
        where.setdefault(size, picture)
    size, reason = choose_size(sizes, image_size, where)
    preparation = Preparation(size, color, centre)
    needed = 4 * len(everything) * int(np.prod(preparation.shape))
    if needed > MAX_BYTES:
        raise ParamsError(
            f"{len(everything):,} pictures of {'x'.join(map(str, preparation.shape))} would take "
            f"{needed / (1 << 30):.1f} GiB: set dataset.image_size smaller (e.g. [64, 64])"
        )
    prepared, done, shown = {}, 0, time.monotonic()
    for part, items in listing.parts.items():
        x = np.empty((len(items), *preparation.shape), np.float32)
        for index, (picture, _) in enumerate(items):
            try:
                x[index] = prepare(open_picture(picture), preparation)
            except DataError as error:
                raise DataError(str(error) if str(picture) in str(error) else f"{picture}: {error}") from None
            done += 1
            if time.monotonic() - shown > PROGRESS_SECONDS:
                log.info("decoded %s of %s pictures", f"{done:,}", f"{len(everything):,}")
                shown = time.monotonic()
        prepared[part] = (x, np.array([label for _, label in items], np.uint8))
    return prepared, {"image_size": list(size), "size_reason": reason}
