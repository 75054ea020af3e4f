"""Folder datasets of synthetic pictures for tests: three classes (ring, bar, cross) of
bright shapes on noise, as PNG and JPEG files of two sizes, grayscale or RGB, laid out
as `train/CLASS/*` and `test/CLASS/*` or as one tree of class folders."""

from pathlib import Path

import numpy as np
from PIL import Image

SHAPES = ["ring", "bar", "cross"]
SIZES = ((24, 24), (36, 28))  # height, width: three pictures of four have the first


def picture(label: int, size: tuple[int, int], rng, color: bool) -> np.ndarray:
    """One picture: a shape of about 40% of the shorter side, a little off the centre."""
    height, width = size
    rows, columns = np.mgrid[:height, :width].astype(np.float32)
    radius = 0.2 * min(size)
    rows -= height / 2 + rng.uniform(-2, 2)
    columns -= width / 2 + rng.uniform(-2, 2)
    masks = [
        np.abs(np.hypot(rows, columns) - radius) < 1.5,
        (np.abs(columns) < 2) & (np.abs(rows) < radius),
        ((np.abs(rows) < 1.5) | (np.abs(columns) < 1.5)) & (np.hypot(rows, columns) < radius),
    ]
    noise = rng.integers(0, 60, size=(height, width, 3 if color else 1))
    tint = rng.integers(120, 256, size=3 if color else 1)  # RGB: a random colour per picture
    noise[masks[label]] = tint
    return noise.astype(np.uint8).squeeze()


def write_pictures(
    folder: Path, per_class: int, seed: int, color: bool = False, sizes: tuple = SIZES
) -> list[Path]:
    """`per_class` pictures of each class in folder/CLASS/, alternately PNG and JPEG,
    three of four of `sizes[0]`, the others of `sizes[1]`."""
    rng, written = np.random.default_rng(seed), []
    for label, name in enumerate(SHAPES):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            size = sizes[1] if index % 4 == 3 else sizes[0]
            path = folder / name / f"{name}{index:04d}.{'jpg' if index % 2 else 'png'}"
            Image.fromarray(picture(label, size, rng, color)).save(path, quality=95)
            written.append(path)
    return written


def write_dataset(root: Path, train: int, test: int, color: bool = False) -> Path:
    """train/CLASS/* and test/CLASS/* under root, `train` and `test` pictures per class."""
    write_pictures(root / "train", train, seed=0, color=color)
    write_pictures(root / "test", test, seed=1, color=color)
    return root
