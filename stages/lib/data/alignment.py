"""Images brought into alignment (their background and black bars, their ink's centre and
size, moved by whole pixels or resampled to another size), pixel differences between
pairs of images at their best alignment within a few pixels, and a cheap lower bound of
those that rules out most pairs first."""

import warnings

import numpy as np

SHIFT_REACH = 2  # pixels, each way
CHUNK = 20_000  # pairs compared at once
BOX = 4  # side of the window means that bound a pair's difference from below
ROUNDING = 1e-5  # float32's error in those means, well over
INK_FLOOR = 0.2  # ink: how far over this a pixel stands from the background


def black_bars(gray: np.ndarray) -> np.ndarray:
    """Where each grayscale image has all-black rows or columns along its edges, as
    preparing a picture of another shape pads it (stages.lib.data.pictures.pad_to)."""
    black = gray == 0

    def edges(lines: np.ndarray) -> np.ndarray:  # the leading and trailing all-black lines
        leading = np.cumprod(lines, axis=1).astype(bool)
        return leading | np.cumprod(lines[:, ::-1], axis=1)[:, ::-1].astype(bool)

    return edges(black.all(axis=2))[:, :, None] | edges(black.all(axis=1))[:, None, :]


def backgrounds(gray: np.ndarray, bars: np.ndarray) -> np.ndarray:
    """Each grayscale image's background: the median of its outermost pixels but its
    black bars (0 where those are all there is)."""
    ring = np.zeros(gray.shape[1:], bool)
    ring[[0, -1], :] = ring[:, [0, -1]] = True
    edge = np.where(bars, np.nan, gray)[:, ring]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all bars: nan, and then 0
        return np.nan_to_num(np.nanmedian(edge, axis=1)).astype(np.float32)


def ink_geometry(gray: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each grayscale image's ink (how far over INK_FLOOR each pixel stands from the
    background): its centre of mass (row, col) and radius of gyration, in pixels."""
    ink = np.clip(np.abs(gray - background[:, None, None]) - INK_FLOOR, 0, None)
    total = ink.sum(axis=(1, 2)) + 1e-9
    rows, cols = (np.arange(side, dtype=np.float32) for side in ink.shape[1:])
    centre_row = (ink.sum(axis=2) * rows).sum(axis=1) / total
    centre_col = (ink.sum(axis=1) * cols).sum(axis=1) / total
    spread = (ink.sum(axis=2) * (rows - centre_row[:, None]) ** 2).sum(axis=1)
    spread += (ink.sum(axis=1) * (cols - centre_col[:, None]) ** 2).sum(axis=1)
    return np.stack([centre_row, centre_col], axis=1), np.sqrt(spread / total) + 1e-6


def moved_by(images: np.ndarray, moves: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Each image moved by whole pixels (rows, cols); what comes in is its background, and
    what goes out is lost, as in a shifted copy."""
    rows, cols = images.shape[1:3]
    moved = np.repeat(background, images[0].size).reshape(images.shape).astype(np.float32)
    for image, out, (dr, dc) in zip(images, moved, moves, strict=True):
        out[max(0, dr) : rows + min(0, dr), max(0, dc) : cols + min(0, dc)] = image[
            max(0, -dr) : rows + min(0, -dr), max(0, -dc) : cols + min(0, -dc)
        ]
    return moved


def rescaled(
    images: np.ndarray,
    background: np.ndarray,
    centres: np.ndarray,
    scales: np.ndarray,
    targets: np.ndarray,
    nearest: bool = False,
) -> np.ndarray:
    """Each image magnified `scales` times about its point `centres` (row, col), which
    lands on `targets`; bilinear (or, with `nearest`, each pixel the nearest one, which
    averages no noise away), what comes from outside it is `background` (one value per
    image). Rows and columns are resampled apart (two batched matrix products)."""
    rows, cols = images.shape[1:3]

    def weights(side: int, axis: int) -> np.ndarray:  # images x side (out) x side (in)
        pixels = np.arange(side, dtype=np.float32)
        source = ((pixels[None] - targets[:, axis, None]) / scales[:, None] + centres[:, axis, None])[
            :, :, None
        ]
        if nearest:
            return (np.round(source) == pixels).astype(np.float32)
        return np.clip(1 - np.abs(source.astype(np.float32) - pixels), 0, None)

    shape = (len(images),) + (1,) * (images.ndim - 1)
    ink = images - background.reshape(shape)
    moved = np.einsum("nir,nrc...,njc->nij...", weights(rows, 0), ink, weights(cols, 1), optimize=True)
    return moved + background.reshape(shape)


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
