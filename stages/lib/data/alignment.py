"""Pixel differences between pairs of images at their best alignment within a few pixels,
and a cheap lower bound of them that rules out most pairs first."""

import numpy as np

SHIFT_REACH = 2  # pixels, each way
CHUNK = 20_000  # pairs compared at once
BOX = 4  # side of the window means that bound a pair's difference from below
ROUNDING = 1e-5  # float32's error in those means, well over


def difference(a: np.ndarray, b: np.ndarray, reach: int = SHIFT_REACH, mean: bool = False) -> np.ndarray:
    """The largest (or with `mean`, the mean) pixel difference between each a and b, at
    their best alignment within `reach` pixels (compared where they overlap)."""
    rows, cols = a.shape[1:3]
    best = np.full(len(a), np.inf, dtype=np.float32)
    for dr in range(-reach, reach + 1):
        for dc in range(-reach, reach + 1):
            in_a = np.s_[:, max(0, dr) : rows + min(0, dr), max(0, dc) : cols + min(0, dc)]
            in_b = np.s_[:, max(0, -dr) : rows + min(0, -dr), max(0, -dc) : cols + min(0, -dc)]
            gaps = np.abs(a[in_a] - b[in_b])
            pixels = tuple(range(1, gaps.ndim))
            best = np.minimum(best, gaps.mean(axis=pixels) if mean else gaps.max(axis=pixels, initial=0))
    return best


def window_means(images: np.ndarray, side: int = BOX) -> np.ndarray:
    """The mean of every side x side window of each image, by its top-left pixel."""
    rows, cols = images.shape[1] - side + 1, images.shape[2] - side + 1
    return sum(images[:, i : i + rows, j : j + cols] for i in range(side) for j in range(side)) / side**2


def lower_bound(a: np.ndarray, b: np.ndarray, reach: int = SHIFT_REACH, side: int = BOX) -> np.ndarray:
    """At most difference(a, b) for each pair, from window_means (a, b) alone, about
    twenty times faster: a window's mean difference is at most its largest pixel
    difference, so the largest over a grid of windows inside every alignment's overlap
    bounds each alignment's from below."""
    rows, cols = a.shape[1:3]
    grid_rows = np.arange(reach, rows - reach, side)[:, None]
    grid_cols = np.arange(reach, cols - reach, side)[None, :]
    on_grid = a[:, grid_rows, grid_cols]
    best = np.full(len(a), np.inf, dtype=np.float32)
    for dr in range(-reach, reach + 1):
        for dc in range(-reach, reach + 1):
            gaps = np.abs(on_grid - b[:, grid_rows - dr, grid_cols - dc])
            best = np.minimum(best, gaps.max(axis=(1, 2)))
    return best


def in_chunks(compare, images: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """compare(images[first], images[second]), CHUNK pairs at a time."""
    return np.concatenate(
        [
            compare(images[first[start : start + CHUNK]], images[second[start : start + CHUNK]])
            for start in range(0, len(first), CHUNK)
        ]
        or [np.zeros(0, np.float32)]
    )
