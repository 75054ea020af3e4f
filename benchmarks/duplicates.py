"""Measure what stages.lib.data.duplicates calls a copy, on MNIST and on planted copies.

    python -m benchmarks.duplicates [--prepared data/prepared] [--copies 500]   (from the root)

Prints, for MNIST's 70,000 prepared images (train and test, no copies among them): the
candidate pairs the KD-tree gives, the smallest differences between two different
images as they are (the false duplicates a threshold would make), the time each step
takes, and the pairs the whole rule calls copies (with inks of different size compared
at one size).
Then, for `--copies` training images copied in each of several ways (JPEG re-encoded at
quality 75 and 50, enlarged 3x and made small again, shifted by one or two pixels, and
combinations): how many copies the search finds with their original at the threshold,
and the largest difference between copy and original. Not part of the test suite.
"""

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from stages.lib.data import alignment, duplicates


def to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(pixels * 255).astype(np.uint8))


def jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    to_image(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer), dtype=np.float32) / 255


def resized(pixels: np.ndarray, factor: int = 3) -> np.ndarray:
    rows, cols = pixels.shape
    large = to_image(pixels).resize((cols * factor, rows * factor), Image.Resampling.BICUBIC)
    return np.asarray(large.resize((cols, rows), Image.Resampling.LANCZOS), dtype=np.float32) / 255


def shifted(pixels: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Moved by whole pixels, what comes in filled with the background (the median)."""
    moved = np.full_like(pixels, np.median(pixels))
    height, width = pixels.shape
    moved[max(0, rows) : height + min(0, rows), max(0, cols) : width + min(0, cols)] = pixels[
        max(0, -rows) : height + min(0, -rows), max(0, -cols) : width + min(0, -cols)
    ]
    return moved


COPIES = {
    "JPEG, quality 75": lambda p: jpeg(p, 75),
    "JPEG, quality 50": lambda p: jpeg(p, 50),
    "enlarged 3x, made small again": resized,
    "shifted 1 pixel": lambda p: shifted(p, 1, 0),
    "shifted 2 and 1 pixels": lambda p: shifted(p, 2, -1),
    "JPEG 75, shifted 2 pixels": lambda p: shifted(jpeg(p, 75), 0, 2),
    "enlarged, shifted 1 pixel": lambda p: shifted(resized(p), 1, 1),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--copies", type=int, default=500)
    args = parser.parse_args()
    train = np.load(args.prepared / "train.npz")["x"]
    images = np.concatenate([train, np.load(args.prepared / "test.npz")["x"]])

    start = time.perf_counter()
    prepared = duplicates.prepared(images)
    prepared_at = time.perf_counter()
    first, second = duplicates.candidate_pairs(prepared.features)
    searched_at = time.perf_counter()
    differences = alignment.in_chunks(alignment.difference, prepared.compared, first, second)
    compared_at = time.perf_counter()
    print(
        f"{len(images):,} images: prepared in {prepared_at - start:.1f} s, {len(first):,} candidate pairs "
        f"({duplicates.NEIGHBOURS} nearest each) in {searched_at - prepared_at:.1f} s, "
        f"compared in {compared_at - searched_at:.1f} s"
    )
    smallest = np.sort(differences)[:5]
    print("smallest differences between two different MNIST images:", ", ".join(f"{d:.3f}" for d in smallest))
    for limit in (0.05, 0.06, 0.07, 0.08, 0.1):
        print(f"  pairs of different images at or under {limit}: {(differences <= limit).sum():,}")

    first, second, gaps = duplicates.close_pairs(images)
    pairs = ", ".join(f"{a} and {b} ({gap:.3f})" for a, b, gap in zip(first, second, gaps, strict=True))
    print(f"pairs the whole rule calls copies (inks of other sizes at one size): {pairs or 'none'}")

    rng = np.random.default_rng(0)
    originals = rng.choice(len(train), args.copies, replace=False)
    print(
        f"\n{args.copies} training images copied; thresholds {duplicates.THRESHOLD}, "
        f"mean {duplicates.MEAN_LIMIT}"
    )
    for name, copy in COPIES.items():
        copies = np.stack([copy(np.asarray(train[i], dtype=np.float32)) for i in originals])
        both = np.concatenate([images, copies])
        pairs_first, pairs_second, _ = duplicates.close_pairs(both)
        copy_index = len(images) + np.arange(args.copies)
        found = {(a, b) for a, b in zip(pairs_first.tolist(), pairs_second.tolist(), strict=True)}
        recall = np.mean([(int(o), int(c)) in found for o, c in zip(originals, copy_index, strict=True)])
        both_prepared = duplicates.prepared(both)
        gap = alignment.difference(both_prepared.compared[copy_index], both_prepared.compared[originals])
        mean_gap = alignment.difference(
            both_prepared.moved[copy_index], both_prepared.moved[originals], mean=True
        )
        print(
            f"  {name}: found {recall:.3f}; difference to the original: median {np.median(gap):.3f}, "
            f"99th percentile {np.quantile(gap, 0.99):.3f}, largest {gap.max():.3f}; mean difference "
            f"unblurred: median {np.median(mean_gap):.3f}, largest {mean_gap.max():.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
