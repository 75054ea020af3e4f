"""Each exported format against the .keras model it came from: its size, its speed on
this CPU (single-image latency, batch-256 throughput: medians of several runs) and its
agreement on the test images (the share of equal predicted classes, the largest
probability difference). A float format must agree on every image, within a tolerance;
the dynamic-range quantized one on a share of them."""

import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from stages.lib.core.errors import ExportError
from stages.lib.serving.formats import Runner

CHUNK = 1000  # images per call when predicting the whole test set
BATCH = 256  # the throughput's batch size


def size_bytes(path: Path) -> int:
    """A file's size, or the total size of a folder's files."""
    path = Path(path)
    return (
        path.stat().st_size
        if path.is_file()
        else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    )


def predict_all(run: Runner, images: np.ndarray) -> np.ndarray:
    return np.concatenate([run(images[start : start + CHUNK]) for start in range(0, len(images), CHUNK)])


def median_seconds(call: Callable[[], object], runs: int) -> float:
    """The median time of `runs` calls, after one call that warms up."""
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(run: Runner, path: Path, images, labels, reference: np.ndarray, runs: int) -> dict:
    """One format's figures (metrics/export.json): `run` loaded from `path`, on the test
    `images` and `labels`; `reference`: the .keras model's probabilities for them."""
    probabilities = predict_all(run, images)
    batch = images[:BATCH]
    return {
        "bytes": size_bytes(path),
        "latency_ms": round(1000 * median_seconds(lambda: run(images[:1]), runs), 4),
        "images_per_second": round(len(batch) / median_seconds(lambda: run(batch), runs)),
        "agreement": float(np.mean(probabilities.argmax(axis=1) == reference.argmax(axis=1))),
        "max_probability_difference": float(np.abs(probabilities - reference).max()),
        "accuracy": float(np.mean(probabilities.argmax(axis=1) == labels)),
    }


def check(kind: str, row: dict, model: str, images: int, *, tolerance: float, min_agreement: float) -> None:
    """An ExportError, in one line, where the format `kind` (its figures in `row`, its
    file in row["file"]) disagrees with `model` on `images` test images; `min_agreement`:
    the least share the dynamic-range quantized format must agree on."""
    where = f"the {images:,} test images"
    if kind == "litert_dynamic_range":
        if row["agreement"] < min_agreement:
            raise ExportError(
                f"{row['file']} predicts what {model} predicts for only {row['agreement']:.2%} of {where}, "
                f"below export.min_dynamic_range_agreement {min_agreement}: set "
                "export.dynamic_range false to ship the float formats only, or lower the bound"
            )
        return
    if row["agreement"] < 1.0 or row["max_probability_difference"] > tolerance:
        differ = round((1.0 - row["agreement"]) * images)
        raise ExportError(
            f"{row['file']} disagrees with {model}: {differ:,} of {where} get another class, and the "
            f"largest probability difference is {row['max_probability_difference']:.2g} (export.tolerance "
            f"{tolerance:g}); its conversion changed the model, so nothing was exported"
        )
