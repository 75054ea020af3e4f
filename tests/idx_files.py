"""Writing IDX files and small IDX mirrors for the tests."""

import gzip
import hashlib
from pathlib import Path

import numpy as np

from stages.lib.idx import IMAGES_MAGIC, LABELS_MAGIC, load_images_and_labels

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "mnist"
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


def write_mirror(folder: Path, train: tuple, test: tuple) -> dict:
    """Gzipped IDX files of (images, labels) pairs in `folder`; returns the
    `dataset.files` params section that describes them."""
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
        (folder / MNIST_FILES[role]).write_bytes(compressed)
        files[role] = {"filename": MNIST_FILES[role], "sha256": hashlib.sha256(compressed).hexdigest()}
    return files


def mnist_subset(train_size: int, test_size: int):
    """The first images of the real MNIST files in ../shared/mnist."""
    parts = []
    for part, size in (("train", train_size), ("test", test_size)):
        images, labels = load_images_and_labels(
            SHARED_MNIST / MNIST_FILES[f"{part}_images"], SHARED_MNIST / MNIST_FILES[f"{part}_labels"], 10
        )
        parts.append((images[:size], labels[:size]))
    return parts
