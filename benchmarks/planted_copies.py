"""Plant copies, as people make them, in a folder dataset of silhouettes, and measure which
ones preprocess finds together and whether split keeps each pair in one part.

    python -m benchmarks.planted_copies [--originals 5000] [--per-kind 100] [--keep DIR]   (from the root)

Writes `--originals` pictures (28x28 silhouettes, one class per number of lobes, half
of them hard-edged, a tenth in colour) as one tree of class folders, then copies
`--per-kind` of them in each way of COPIES (each from a picture of its own), runs what
preprocess and split run on such a dataset with this repository's params.yaml
(`test_fraction: 0.2`, the default image size, grayscale, no centring), and prints,
per kind, the copies found in one group with their original and the pairs that end in
two parts (test, validation, holdout, search); then the groups that join pictures that
are not copies of each other, and the search's seconds. Not part of the test suite.
"""

import argparse
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from stages.lib.core.config import load_params
from stages.lib.data.decoding import load_pictures
from stages.lib.data.folders import list_pictures
from stages.lib.data.splitting import copies_across, partition, training_groups

SIDE = 28
CLASSES = [f"lobes{lobes}" for lobes in range(3, 13)]


def silhouette(lobes: int, rng, color: bool) -> Image.Image:
    """A dark blob of `lobes` lobes on light paper: half of them drawn at 4x and made small
    (antialiased), the others drawn at their size (hard-edged)."""
    scale = 4 if rng.random() < 0.5 else 1
    angles = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    radius = 1 + rng.uniform(0.15, 0.4) * np.cos(lobes * angles + rng.uniform(0, 2 * np.pi))
    radius += rng.uniform(0, 0.15) * np.cos(rng.integers(1, 4) * angles + rng.uniform(0, 2 * np.pi))
    stretch = rng.uniform(0.75, 1.25)
    outline = np.stack([stretch * radius * np.cos(angles), radius * np.sin(angles) / stretch], axis=1)
    reach = rng.uniform(6, 11) * scale  # pixels from the centre to the farthest point
    centre = SIDE * scale / 2 + rng.uniform(-1.5, 1.5, 2) * scale
    points = centre + outline * reach / np.abs(outline).max()
    paper, ink = (
        (tuple(rng.integers(170, 250, 3)), tuple(rng.integers(0, 90, 3)))
        if color
        else (
            (int(rng.integers(170, 250)),) * 3,
            (int(rng.integers(0, 90)),) * 3,
        )
    )
    large = Image.new("RGB", (SIDE * scale,) * 2, paper)
    ImageDraw.Draw(large).polygon([tuple(p) for p in points], fill=ink)
    small = large.resize((SIDE, SIDE), Image.Resampling.LANCZOS) if scale > 1 else large
    return small if color else small.convert("L")


def shifted(picture: Image.Image, rng) -> Image.Image:
    """Moved one pixel in a random direction, the paper's colour coming in."""
    pixels = np.asarray(picture)
    rows, cols = [(1, 0), (-1, 0), (0, 1), (0, -1)][rng.integers(4)]
    moved = np.roll(pixels, (rows, cols), axis=(0, 1))
    paper = np.median(pixels.reshape(-1, *pixels.shape[2:]), axis=0).astype(pixels.dtype)
    if rows:
        moved[0 if rows > 0 else -1] = paper
    if cols:
        moved[:, 0 if cols > 0 else -1] = paper
    return Image.fromarray(moved)


def cropped(picture: Image.Image, rng) -> Image.Image:
    """1 to 3 pixels cut off each side."""
    left, top, right, bottom = rng.integers(1, 4, 4)
    return picture.crop((left, top, SIDE - right, SIDE - bottom))


COPIES = {  # kind: (how the copy is made, saved as, another class)
    "byte-identical": (None, "png", False),
    "JPEG re-encoded (quality 80)": (lambda p, rng: p, "jpg80", False),
    "resized (28 -> 34 pixels)": (lambda p, rng: p.resize((34, 34), Image.Resampling.BICUBIC), "png", False),
    "shifted one pixel": (shifted, "png", False),
    "cropped 1-3 pixels a side": (cropped, "png", False),
    "colour, JPEG at 40x40": (lambda p, rng: p.resize((40, 40), Image.Resampling.LANCZOS), "jpg90", False),
    "identical, under another class": (None, "png", True),
}


def write_dataset(root: Path, originals: int, per_kind: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    """The pictures under root/CLASS/, and per kind the planted (original, copy) file pairs."""
    rng = np.random.default_rng(seed)
    colour_kind = "colour, JPEG at 40x40"
    chosen = rng.permutation(originals)[: per_kind * len(COPIES)].reshape(len(COPIES), per_kind)
    in_colour = set(chosen[list(COPIES).index(colour_kind)].tolist())
    in_colour |= set(rng.choice(originals, originals // 10, replace=False).tolist())
    paths = []
    for name in CLASSES:
        (root / name).mkdir(parents=True)
    for index in range(originals):
        label = int(rng.integers(len(CLASSES)))
        path = root / CLASSES[label] / f"{index:05d}.png"
        silhouette(label + 3, rng, index in in_colour).save(path)
        paths.append(path)
    planted = {}
    for (kind, (make, saved_as, another_class)), sources in zip(COPIES.items(), chosen, strict=True):
        planted[kind] = []
        for source in sources:
            original = paths[source]
            folder = original.parent
            if another_class:
                others = [name for name in CLASSES if name != folder.name]
                folder = root / others[rng.integers(len(others))]
            copy = folder / f"copy-{original.stem}.{saved_as[:3]}"
            if make is None:
                shutil.copyfile(original, copy)
            else:
                picture = make(Image.open(original), rng)
                if saved_as.startswith("jpg"):
                    picture.save(copy, "JPEG", quality=int(saved_as[3:]))
                else:
                    picture.save(copy)
            planted[kind].append((str(original), str(copy)))
    return planted


def final_parts(root: Path, params) -> tuple[dict[str, str], dict[str, int], float, list[list[str]]]:
    """Each file's part after preprocess and split (test, validation, holdout, search),
    each file's group of copies, the search's seconds and the groups as files."""
    listing = list_pictures(root, None, 0.2, params.seed)
    decoded, _ = load_pictures(listing, "auto", "grayscale", "none")
    parts = {
        part: {"x": x, "y": y, "path": np.array([str(path) for path, _ in listing.parts[part]])}
        for part, (x, y) in decoded.items()
    }
    started = time.perf_counter()
    records, parts = copies_across(parts, params.inspect.duplicate_threshold, movable=True)
    seconds = time.perf_counter() - started
    groups = [[str(parts[part]["path"][index]) for part, index in record["images"]] for record in records]
    train = parts["train"]
    sizes = params.split.sizes(len(train["y"]))
    split = partition(
        train["y"],
        validation_size=sizes["validation"],
        holdout_size=sizes["holdout"],
        method=params.split.method,
        seed=params.seed,
        groups=training_groups(records, np.arange(len(train["y"]))),
    )
    where = {path: "test" for path in parts["test"]["path"]}
    for part, index in split.items():
        where.update({path: part for path in train["path"][index]})
    group_of = {path: number for number, group in enumerate(groups) for path in group}
    return where, group_of, seconds, groups


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--originals", type=int, default=5000)
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the dataset here and keep it")
    args = parser.parse_args()
    params = load_params()
    with tempfile.TemporaryDirectory() as temporary:
        root = args.keep or Path(temporary) / "silhouettes"
        planted = write_dataset(root, args.originals, args.per_kind, args.seed)
        where, group_of, seconds, groups = final_parts(root, params)
    total = sum(len(pairs) for pairs in planted.values())
    print(f"{args.originals:,} silhouettes and {total} planted copies; the search took {seconds:.1f} s")
    print("| kind | found together | pairs in two parts |\n| --- | ---: | ---: |")
    for kind, pairs in planted.items():
        together = sum(a in group_of and group_of[a] == group_of.get(b) for a, b in pairs)
        apart = Counter(tuple(sorted((where[a], where[b]))) for a, b in pairs if where[a] != where[b])
        detail = "".join(f", {'/'.join(k)} {n}" for k, n in apart.items())
        print(f"| {kind} | {together} / {len(pairs)} | {sum(apart.values())}{detail} |")
    family = {}
    for number, pairs in enumerate(planted.values()):
        for a, b in pairs:
            family[a] = family[b] = (number, a)
    false = [group for group in groups if len({family.get(path, path) for path in group}) > 1]
    print(f"{len(groups)} groups; {len(false)} join pictures that are not copies of each other")
    for group in false[:10]:
        print("  ", " ".join(Path(path).parent.name + "/" + Path(path).name for path in group))


if __name__ == "__main__":
    main()
