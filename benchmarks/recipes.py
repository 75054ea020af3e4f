"""Recipe variants trained as train_final trains a finalist, scored on the holdout images
with the paired test (issue 37; docs/measurements.md, "Ensembles, power and recipes").

    python benchmarks/recipes.py --repo CLONE --space cnn --out DIR \
        base='{}' warmup='{"learning_rate": 0.003, "warmup": 0.1}' challenger=best

Run in a clone whose `dvc repro split` (and, for `best`, cv_search@SPACE) has run. Each
variant is the space's default (cv_search.spaces.SPACE.model) with the JSON's keys
replaced (`augmentation` merged), or `best`, models/best_config/SPACE.json. Each is
trained on the search and validation images for train_final.SPACE's epochs (or
--epochs) and batch size with the run's seed, and scored on the holdout images; DIR/NAME.npz keeps its
holdout probabilities (for benchmarks/tie_rules.py) and DIR/NAME.keras the model. It
prints each variant's count right, its wall time, McNemar's test against the first
variant and, with --tta, the same model averaged over five one-pixel shifts. The test
images are never read. Not part of the test suite: each variant trains for minutes.
"""

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stages.lib.core.artifacts import load_arrays, load_images, read_json  # noqa: E402
from stages.lib.core.config import load_params  # noqa: E402
from stages.lib.core.decisions import Candidate, mcnemar  # noqa: E402
from stages.lib.core.paths import DATASET_INFO, SPLIT_DIR, best_config_path  # noqa: E402
from stages.lib.core.specs import validate_spec  # noqa: E402
from stages.lib.training.fitting import train  # noqa: E402

SHIFTS = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]


def variant(space_default: dict, space: str, overrides: str):
    if overrides == "best":
        return validate_spec(read_json(best_config_path(space)), str(best_config_path(space)))
    spec = dict(space_default)
    for key, value in json.loads(overrides).items():
        spec[key] = {**spec.get(key, {}), **value} if key == "augmentation" else value
    return validate_spec(spec, overrides)


def shifted(images: np.ndarray, down: int, right: int) -> np.ndarray:
    """Each image moved by one whole pixel or none (down, right in -1, 0, 1), zero fill."""
    height, width = images.shape[1:3]
    padded = np.pad(images, [(0, 0), (1, 1), (1, 1)] + [(0, 0)] * (images.ndim - 3))
    return padded[:, 1 - down : 1 - down + height, 1 - right : 1 - right + width]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--space", choices=["mlp", "cnn"], required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tta", action="store_true")
    parser.add_argument("--epochs", type=int, help="instead of train_final.SPACE.epochs")
    parser.add_argument("variants", nargs="+", help="NAME=JSON overrides of the default, or NAME=best")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(args.repo):
        params = load_params()
        settings = getattr(params.train_final, args.space)
        default = getattr(params.cv_search.spaces, args.space).model.model_dump()
        train_data = load_images(SPLIT_DIR / "search.npz", SPLIT_DIR / "validation.npz")
        x, y = load_arrays(SPLIT_DIR / "holdout.npz", "x", "y")
        classes = len(read_json(DATASET_INFO)["classes"])
        first = None
        for name, overrides in (item.split("=", 1) for item in args.variants):
            spec = variant(default, args.space, overrides)
            start = time.perf_counter()
            model, _ = train(
                spec,
                train_data,
                (x, y),
                epochs=args.epochs or settings.epochs,
                batch_size=settings.batch_size,
                seed=params.seed,
                num_classes=classes,
            )
            seconds = time.perf_counter() - start
            probabilities = model.predict(x, batch_size=1024, verbose=0)
            np.savez(out / f"{name}.npz", p=probabilities, y=y)
            model.save(out / f"{name}.keras")
            right = Candidate(name, probabilities.argmax(axis=1) == y, 0.0)
            line = f"{name}: {int(right.right.sum()):,} of {len(y):,} holdout images right, {seconds:.0f} s"
            if first is not None:
                only_first, only_this, p_value = mcnemar(first, right)
                line += (
                    f"; against {first.name}: {only_first} only it, {only_this} only this, p = {p_value:.2g}"
                )
            first = first or right
            if args.tta:
                averaged = np.mean(
                    [model.predict(shifted(x, *s), batch_size=1024, verbose=0) for s in SHIFTS], axis=0
                )
                tta = Candidate("tta", averaged.argmax(axis=1) == y, 0.0)
                only_plain, only_tta, p_value = mcnemar(right, tta)
                line += f"; five shifts averaged: {int(tta.right.sum()):,} "
                line += f"(only plain {only_plain}, only averaged {only_tta}, p = {p_value:.2g})"
            print(line, flush=True)


if __name__ == "__main__":
    main()
