"""Exact and near duplicates among a dataset's images, and splits that keep them together.

Near is a copy of the same picture: re-encoded, resized or shifted by a pixel or two, not
two people's plain "1"s that look alike. Each image is moved so that its ink (in
grayscale, its pixels' distance from the median, the background) is centred. Candidate
pairs: each image and its NEIGHBOURS nearest in a 7x7 summary of the picture blurred by
sigma 2 (a KD-tree on its principal components). A pair is a copy where, in grayscale
blurred by sigma 1 and best aligned within a few pixels (alignment.py), no pixel differs
by more than `threshold` (a lower bound from window means rules out nearly every other
pair first, about twenty times faster), and where, unblurred and in colour, they differ by
at most MEAN_LIMIT on average. Groups are the connected pairs. Every bound was measured on
MNIST's 70,000 images, planted copies and the tests' synthetic pictures
(benchmarks/duplicates.py, docs/data.md)."""

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from sklearn.decomposition import PCA

from stages.lib.data.alignment import ROUNDING, difference, in_chunks, lower_bound, window_means

THRESHOLD = 0.06  # the largest pixel difference (of 1) between copies, after blurring
MEAN_LIMIT = 0.025  # and the largest mean difference, unblurred
INK_FLOOR = 0.2  # centring weighs pixels by how far over this they stand from the background
SUMMARY_SIDE = 7  # the summary's side: SUMMARY_SIDE x SUMMARY_SIDE area means
SUMMARY_DIMENSIONS = 8  # principal components of the summary searched by the KD-tree
NEIGHBOURS = 8  # candidate pairs: each image with its nearest ones in those components


def grayscale(images: np.ndarray) -> np.ndarray:
    """float32 images x rows x cols, colour averaged."""
    images = np.asarray(images, dtype=np.float32)
    return images.mean(axis=3) if images.ndim == 4 else images


def centred(images: np.ndarray) -> np.ndarray:
    """Each image (float32, grayscale or colour) moved by whole pixels so that its ink's
    centre of mass, in grayscale, is its centre; what comes in is its background (its
    median), and what goes out is lost, as in a shifted copy."""
    gray = grayscale(images)
    background = np.median(gray, axis=(1, 2))
    distance = np.abs(gray - background[:, None, None])
    ink = np.clip(distance - INK_FLOOR, 0, None)  # re-encoding's faint noise moves no centre
    total = ink.sum(axis=(1, 2)) + 1e-9
    rows, cols = gray.shape[1:]
    centre_row = (ink.sum(axis=2) * np.arange(rows)).sum(axis=1) / total
    centre_col = (ink.sum(axis=1) * np.arange(cols)).sum(axis=1) / total
    moves = np.round(np.stack([(rows - 1) / 2 - centre_row, (cols - 1) / 2 - centre_col], axis=1)).astype(int)
    moved = np.repeat(background, images[0].size).reshape(images.shape).astype(np.float32)
    for image, out, (dr, dc) in zip(images, moved, moves, strict=True):
        out[max(0, dr) : rows + min(0, dr), max(0, dc) : cols + min(0, dc)] = image[
            max(0, -dr) : rows + min(0, -dr), max(0, -dc) : cols + min(0, -dc)
        ]
    return moved


def area_means(size: int, side: int) -> np.ndarray:
    """side x size weights: each row averages one of `side` equal stretches of `size` pixels."""
    edges = np.linspace(0, size, side + 1)
    pixels = np.arange(size)
    overlap = np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels)
    weights = np.clip(overlap, 0, None)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def summaries(blurred: np.ndarray) -> np.ndarray:
    rows, cols = blurred.shape[1:]
    means = area_means(rows, SUMMARY_SIDE) @ blurred @ area_means(cols, SUMMARY_SIDE).T
    return means.reshape(len(blurred), -1)


def candidate_pairs(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) with i < j, each once: every row of `features` with its NEIGHBOURS nearest."""
    neighbours = min(NEIGHBOURS + 1, len(features))
    _, nearest = cKDTree(features).query(features, k=neighbours, workers=-1)
    pairs = np.sort(
        np.stack([np.repeat(np.arange(len(features)), neighbours), nearest.ravel()], axis=1), axis=1
    )
    pairs = np.unique(pairs[pairs[:, 0] < pairs[:, 1]], axis=0)
    return pairs[:, 0], pairs[:, 1]


def prepared(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The images centred (in colour, if they have it), the same in grayscale blurred by
    sigma 1 (as compared) and their search features (the summary's principal components,
    fitted on a fixed sample)."""
    moved = centred(np.asarray(images, dtype=np.float32))
    gray = grayscale(moved)
    compared = ndimage.gaussian_filter(gray, (0, 1, 1))
    summary = summaries(ndimage.gaussian_filter(gray, (0, 2, 2)))
    dimensions = min(SUMMARY_DIMENSIONS, *summary.shape)
    sample = summary[:: max(1, len(summary) // 10_000)]
    features = PCA(dimensions, svd_solver="full").fit(sample).transform(summary)
    return moved, compared, features


def close_pairs(
    images: np.ndarray, threshold: float = THRESHOLD
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, difference) of every pair of images closer than `threshold` that also
    differ by at most MEAN_LIMIT on average, unblurred and in colour (so that two pictures
    of one drawing under different noise or in different colours are not copies)."""
    moved, compared, features = prepared(images)
    first, second = candidate_pairs(features)
    # The exact comparison only for the pairs that its cheap lower bound leaves possible.
    bounds = in_chunks(lower_bound, window_means(compared), first, second)
    possible = np.flatnonzero(bounds <= threshold + ROUNDING)
    first, second = first[possible], second[possible]
    differences = in_chunks(difference, compared, first, second)
    close = np.flatnonzero(differences <= threshold)
    close = close[difference(moved[first[close]], moved[second[close]], mean=True) <= MEAN_LIMIT]
    return first[close], second[close], differences[close]


def duplicate_groups(images: np.ndarray, threshold: float = THRESHOLD) -> list[np.ndarray]:
    """The groups of two or more images that are copies of each other (sorted indices),
    ordered by their first image."""
    first, second, _ = close_pairs(images, threshold)
    graph = coo_matrix((np.ones(len(first)), (first, second)), shape=(len(images),) * 2)
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    members = np.argsort(component, kind="stable")
    groups = np.split(members, np.cumsum(sizes)[:-1])
    return sorted((group for group in groups if len(group) > 1), key=lambda group: group[0])


def is_exact(images: np.ndarray, group: np.ndarray) -> bool:
    """Whether every image of the group has the same pixels (to 1/255)."""
    pixels = np.round(np.asarray(images[group], dtype=np.float32) * 255)
    return bool((pixels == pixels[0]).all())


def keep_together(part: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """`part` (each image's part number) with every group moved wholly into the part that
    holds most of it (on a tie, the lowest number)."""
    part = part.copy()
    for group in groups:
        part[group] = np.bincount(part[group]).argmax()
    return part


def copies_across(parts: dict[str, dict[str, np.ndarray]], threshold: float, movable: bool):
    """The groups of copies among all parts' images (each part a dict of arrays: x, y and
    maybe path), as records {"kind": exact or near, "images": [[part, index], ...]}, and
    the parts, where `movable`, with each group moved wholly into one (keep_together, in
    the parts' order); else the parts as they were."""
    names = list(parts)
    images = np.concatenate([parts[name]["x"] for name in names])
    part = np.repeat(np.arange(len(names)), [len(parts[name]["x"]) for name in names])
    groups = duplicate_groups(images, threshold)
    if movable and groups:
        part = keep_together(part, groups)
        everything = {key: np.concatenate([parts[name][key] for name in names]) for key in parts[names[0]]}
        parts = {name: {key: v[part == i] for key, v in everything.items()} for i, name in enumerate(names)}
    position = np.zeros(len(part), dtype=int)
    for i in range(len(names)):
        position[part == i] = np.arange((part == i).sum())
    records = [
        {
            "kind": "exact" if is_exact(images, group) else "near",
            "images": [[names[part[k]], int(position[k])] for k in group],
        }
        for group in groups
    ]
    return records, parts
