"""Parse MNIST's IDX format (http://yann.lecun.com/exdb/mnist/, "file formats").

Big-endian header: a magic number (two zero bytes, a type code, the number of
dimensions), one uint32 size per dimension, then the data. Images: magic 2051, count,
rows, cols, one unsigned byte per pixel. Labels: magic 2049, count, one byte per label.
Anything else raises DataError naming the file.
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

from stages.lib.core.errors import DataError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """A file's bytes, gunzipped if it is gzip-compressed."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path} is a damaged gzip file ({error}): delete it and download again") from None


def _parse(data: bytes, magic: int, source: str) -> tuple[list[int], bytes]:
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"{source}: {len(data)} bytes is too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(f"{source}: magic number {found:#010x}, expected {magic:#010x} ({_kind(magic)})")
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = data[header_size:]
    expected = int(np.prod(shape, dtype=object))
    if len(body) != expected:
        raise DataError(
            f"{source}: header announces shape {tuple(shape)} ({expected} bytes of data) "
            f"but the file holds {len(body)}: the file is truncated or corrupt"
        )
    return shape, body


def _kind(magic: int) -> str:
    return "images" if magic == IMAGES_MAGIC else "labels"


def parse_images(data: bytes, source: str) -> np.ndarray:
    """IDX image bytes as a uint8 array of shape (count, rows, cols)."""
    shape, body = _parse(data, IMAGES_MAGIC, source)
    if shape[0] == 0 or shape[1] == 0 or shape[2] == 0:
        raise DataError(f"{source}: holds no images (shape {tuple(shape)})")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def parse_labels(data: bytes, source: str, num_classes: int) -> np.ndarray:
    """IDX label bytes as a uint8 array of shape (count,), each in 0..num_classes-1."""
    shape, body = _parse(data, LABELS_MAGIC, source)
    labels = np.frombuffer(body, dtype=np.uint8)
    if labels.size == 0:
        raise DataError(f"{source}: holds no labels")
    if labels.max() >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise DataError(
            f"{source}: label {labels[bad]} at index {bad} is outside 0..{num_classes - 1} "
            f"(dataset.classes names {num_classes} classes)"
        )
    return labels


def load_images_and_labels(images_path: Path, labels_path: Path, num_classes: int):
    """Matching image and label files as (images uint8 (n, rows, cols), labels uint8 (n,))."""
    images = parse_images(read_bytes(images_path), str(images_path))
    labels = parse_labels(read_bytes(labels_path), str(labels_path), num_classes)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels: the files do not belong together"
        )
    return images, labels


def load_dataset(
    raw_dir: Path, files, num_classes: int, transpose: bool = False
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (x, y), "test": (x, y)} from the `files` that params' dataset.files
    names: pixels as float32 in [0, 1], labels as uint8.
    `transpose` swaps each image's rows and columns (EMNIST stores its images so)."""
    prepared = {}
    for part in ("train", "test"):
        images, labels = load_images_and_labels(
            raw_dir / getattr(files, f"{part}_images").filename,
            raw_dir / getattr(files, f"{part}_labels").filename,
            num_classes,
        )
        if transpose:
            images = images.transpose(0, 2, 1)
        prepared[part] = (images.astype(np.float32) / 255.0, labels)
    train_shape, test_shape = prepared["train"][0].shape[1:], prepared["test"][0].shape[1:]
    if train_shape != test_shape:
        raise DataError(
            f"{raw_dir / files.test_images.filename}: images of {test_shape} pixels, but the training "
            f"images in {raw_dir / files.train_images.filename} are {train_shape}"
        )
    return prepared
