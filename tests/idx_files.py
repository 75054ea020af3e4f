"""Writing IDX files and small IDX mirrors for the tests."""

import gzip
import hashlib
from pathlib import Path

import numpy as np

from stages.lib.data.idx import IMAGES_MAGIC, LABELS_MAGIC

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def encode_images(images: np.ndarray, magic: int = IMAGES_MAGIC) -> bytes:
    header = b"".join(int(n).to_bytes(4, "big") for n in (magic, *images.shape))
    return header + np.ascontiguousarray(images, dtype=np.uint8).tobytes()


def encode_labels(labels: np.ndarray, magic: int = LABELS_MAGIC) -> bytes:
    header = b"".join(int(n).to_bytes(4, "big") for n in (magic, len(labels)))
    return header + np.ascontiguousarray(labels, dtype=np.uint8).tobytes()


def write_mirror(folder: Path, train: tuple, test: tuple, prefix: str = "") -> dict:
    """Gzipped IDX files of (images, labels) pairs in `folder`, named as MNIST's after
    `prefix`; returns the `dataset.files` params section that describes them."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "train_images": encode_images(train[0]),
        "train_labels": encode_labels(train[1]),
        "test_images": encode_images(test[0]),
        "test_labels": encode_labels(test[1]),
    }
    files = {}
    for role, data in contents.items():
        compressed = gzip.compress(data, mtime=0)
        (folder / (prefix + MNIST_FILES[role])).write_bytes(compressed)
        files[role] = {
            "filename": prefix + MNIST_FILES[role],
            "sha256": hashlib.sha256(compressed).hexdigest(),
        }
    return files
