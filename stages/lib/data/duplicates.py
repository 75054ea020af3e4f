"""Exact and near duplicates among a dataset's images (splitting.py keeps them together).

Near is a copy of the same picture: re-encoded, resized, shifted by a pixel or two, or
cropped by a few pixels and enlarged back to the dataset's size; not two people's plain
"1"s that look alike. Each image's background is the median of its outermost pixels;
black bars along its edges (what preparing a cropped picture pads it with) are painted
in it, and the image is moved by whole pixels so that its ink (in grayscale, how far its
pixels stand from the background) is centred. Candidate pairs: each image and its
NEIGHBOURS nearest in a 7x7 summary of the picture blurred by sigma 2 and brought to the
median ink size (a KD-tree on its principal components). A pair is a copy where, in
grayscale blurred by sigma 1 and best aligned within a few pixels (alignment.py), no
pixel differs by more than `threshold` (a lower bound from window means rules out nearly
every other pair first, about twenty times faster), and where, unblurred and in colour,
they differ by at most MEAN_LIMIT on average; where their inks' sizes differ (a crop),
the larger is first brought to the smaller's size and centre. Groups are the connected
pairs. Every bound was measured on MNIST's 70,000 images, planted copies and the tests'
synthetic pictures (benchmarks/duplicates.py, benchmarks/planted_copies.py,
docs/data.md)."""

from typing import NamedTuple

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from sklearn.decomposition import PCA

from stages.lib.data import alignment
from stages.lib.data.alignment import CHUNK, ROUNDING, difference, lower_bound, rescaled, window_means

THRESHOLD = 0.06  # the largest pixel difference (of 1) between copies, after blurring
MEAN_LIMIT = 0.025  # and the largest mean difference, unblurred
SUMMARY_SIDE = 7  # the summary's side: SUMMARY_SIDE x SUMMARY_SIDE area means
SUMMARY_DIMENSIONS = 8  # principal components of the summary searched by the KD-tree
NEIGHBOURS = 8  # candidate pairs: each image with its nearest ones in those components
SAME_SIZE = 1.04  # inks whose radii differ by more are compared at one size
MAX_SCALE = 1.35  # and no further apart: a few pixels cropped off each side of a picture
SCALE_STEPS = (0.985, 1.015)  # times the radii's ratio, tried too where that came close:
STEP_MARGIN = 0.04  # within this of the threshold


def grayscale(images: np.ndarray) -> np.ndarray:
    """float32 images x rows x cols, colour averaged."""
    images = np.asarray(images, dtype=np.float32)
    return images.mean(axis=3) if images.ndim == 4 else images


def summaries(gray: np.ndarray, background: np.ndarray, centres: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Each image averaged over SUMMARY_SIDE x SUMMARY_SIDE equal squares that tile the
    square of half-side `reach` around its `centres`; what lies outside the image counts as
    its background."""
    tiles = np.linspace(-1, 1, SUMMARY_SIDE + 1, dtype=np.float32)

    def shares(axis: int) -> np.ndarray:  # images x SUMMARY_SIDE x pixels: each stretch's share of each pixel
        edges = centres[:, axis, None] + reach[:, None] * tiles
        pixels = np.arange(gray.shape[1 + axis], dtype=np.float32)
        overlap = np.minimum(edges[:, 1:, None], pixels + 0.5) - np.maximum(edges[:, :-1, None], pixels - 0.5)
        return np.clip(overlap, 0, None) / (edges[:, 1:] - edges[:, :-1])[:, :, None]

    ink = gray - background[:, None, None]
    means = np.einsum("nir,nrc,njc->nij", shares(0), ink, shares(1), optimize=True)
    return means.reshape(len(gray), -1) + background[:, None]


def candidate_pairs(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) with i < j, each once: every row of `features` with its NEIGHBOURS nearest."""
    neighbours = min(NEIGHBOURS + 1, len(features))
    _, nearest = cKDTree(features).query(features, k=neighbours, workers=-1)
    pairs = np.sort(
        np.stack([np.repeat(np.arange(len(features)), neighbours), nearest.ravel()], axis=1), axis=1
    )
    pairs = np.unique(pairs[pairs[:, 0] < pairs[:, 1]], axis=0)
    return pairs[:, 0], pairs[:, 1]


class Prepared(NamedTuple):
    moved: np.ndarray  # centred, in colour if they have it
    background: np.ndarray  # each one's, in grayscale
    compared: np.ndarray  # in grayscale, blurred by sigma 1
    windows: np.ndarray  # the window means of those, for the lower bound
    centres: np.ndarray  # of their ink (row, col)
    radii: np.ndarray  # and its radius of gyration
    features: np.ndarray  # what the candidates are searched on


def prepared(images: np.ndarray) -> Prepared:
    """The images, their black bars painted in their background (a cropped copy's bars
    are not part of it), moved by whole pixels so that their ink's centre of mass is their
    centre (in colour, if they have it); the same in grayscale blurred by sigma 1 (as
    compared); their ink's geometry; and their search features: the summary's principal
    components (fitted on a fixed sample) of each image brought to the median ink size, so
    that a cropped and enlarged copy is near its original."""
    images = np.array(images, dtype=np.float32)
    gray = grayscale(images)
    bars = alignment.black_bars(gray)
    background = alignment.backgrounds(gray, bars)
    fill = np.broadcast_to(background[:, None, None], bars.shape)[bars]
    images[bars] = fill[:, None] if images.ndim == 4 else fill
    centres, radii = alignment.ink_geometry(grayscale(images), background)
    moves = np.round(np.array([(images.shape[1] - 1) / 2, (images.shape[2] - 1) / 2]) - centres).astype(int)
    moved = alignment.moved_by(images, moves, background)
    gray = grayscale(moved)
    compared = ndimage.gaussian_filter(gray, (0, 1, 1))
    centres = centres + moves
    reach = max(gray.shape[1:]) / 2 * radii / np.median(radii)
    summary = summaries(ndimage.gaussian_filter(gray, (0, 2, 2)), background, centres, reach)
    dimensions = min(SUMMARY_DIMENSIONS, *summary.shape)
    sample = summary[:: max(1, len(summary) // 10_000)]
    features = PCA(dimensions, svd_solver="full").fit(sample).transform(summary)
    return Prepared(moved, background, compared, window_means(compared), centres, radii, features)


def differences_at(
    p: Prepared, small: np.ndarray, large: np.ndarray, scales: np.ndarray | None, threshold: float
):
    """Each pair's largest pixel difference (blurred, at their best alignment), the larger
    ink first brought to `scales` times its size and to the smaller's place (unless
    `scales` is None), inf where that is over `threshold` or the mean difference
    (unblurred, in colour) is over MEAN_LIMIT; and the lower bound of the first."""
    where = None if scales is None else (p.centres[large], scales, p.centres[small])
    if where is None:
        compared, windows = p.compared[large], p.windows[large]
    else:
        compared = rescaled(p.compared[large], p.background[large], *where)
        windows = window_means(compared)
    # The exact comparison only for the pairs that its cheap lower bound leaves possible.
    bounds = lower_bound(p.windows[small], windows)
    possible = np.flatnonzero(bounds <= threshold + ROUNDING)
    gaps = difference(p.compared[small[possible]], compared[possible])
    near, gaps = possible[gaps <= threshold], gaps[gaps <= threshold]
    moved = p.moved[large[near]]
    if where is not None:  # nearest: bilinear would average away noise that tells two pictures apart
        moved = rescaled(moved, p.background[large[near]], *(v[near] for v in where), nearest=True)
    alike = difference(p.moved[small[near]], moved, mean=True) <= MEAN_LIMIT
    result = np.full(len(small), np.inf, np.float32)
    result[near[alike]] = gaps[alike]
    return result, bounds


def close_pairs(
    images: np.ndarray, threshold: float = THRESHOLD
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, difference) of every pair of images closer than `threshold` that also
    differ by at most MEAN_LIMIT on average, unblurred and in colour (so that two pictures
    of one drawing under different noise or in different colours are not copies). Where
    their inks' sizes differ by more than SAME_SIZE times (a cropped copy, enlarged back
    to the dataset's size), the larger is brought to the smaller's size: their radii's
    ratio, and where that comes within STEP_MARGIN, that times each of SCALE_STEPS too;
    the best counts."""
    p = prepared(images)
    first, second = candidate_pairs(p.features)
    swap = p.radii[first] > p.radii[second]
    small, large = np.where(swap, second, first), np.where(swap, first, second)
    scale = p.radii[small] / p.radii[large]
    differences = np.full(len(first), np.inf, np.float32)
    same = np.flatnonzero(scale >= 1 / SAME_SIZE)
    resized = np.flatnonzero((scale < 1 / SAME_SIZE) & (scale >= 1 / MAX_SCALE))
    for start in range(0, len(same), CHUNK):
        pairs = same[start : start + CHUNK]
        differences[pairs], _ = differences_at(p, small[pairs], large[pairs], None, threshold)
    for start in range(0, len(resized), CHUNK):
        pairs = resized[start : start + CHUNK]
        differences[pairs], bounds = differences_at(p, small[pairs], large[pairs], scale[pairs], threshold)
        pairs = pairs[bounds <= threshold + STEP_MARGIN]  # close enough for a better scale to matter
        for step in SCALE_STEPS:
            found, _ = differences_at(p, small[pairs], large[pairs], scale[pairs] * step, threshold)
            differences[pairs] = np.minimum(differences[pairs], found)
    close = np.flatnonzero(np.isfinite(differences))
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
