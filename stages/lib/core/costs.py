"""What training a model spec costs on the reference machine: microseconds per image
of one training epoch (forward and backward pass, augmented input stream), estimated
from its multiply-adds by a table measured there. The estimate is deterministic (a
table, not a timing), so the same params give the same search. `python -m
benchmarks.costs` measures the table anew on another machine."""

import itertools
import math

from stages.lib.core.specs import ModelSpec

REFERENCE_MACHINE = "2-core Intel Xeon (AVX-512), TensorFlow 2.21 CPU"
# (family, batch size): (microseconds per image, plus microseconds per million
# multiply-adds per image), least squares over three models each, measured 2026-12-01 by
# benchmarks/costs.py (mlp: 2 x 256, 2 x 1024, 3 x 2048; cnn: Conv 16/32 + Dense 64,
# 32/64 + 128, 64/128 + 512, 5x5 kernels; a float32 matmul ran at 298 GFLOP/s).
# lenet uses cnn's rows.
COSTS = {
    ("mlp", 128): (33.2, 57.8),
    ("mlp", 512): (31.7, 29.7),
    ("cnn", 128): (129.4, 40.7),
    ("cnn", 256): (107.8, 40.4),
}


def multiply_adds(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> int:
    """Multiply-adds per image of the spec's Dense and Conv layers."""
    if spec.family == "mlp":
        sizes = [math.prod(input_shape), *spec.hidden_units, num_classes]
        return sum(a * b for a, b in itertools.pairwise(sizes))
    (height, width, *colors), total, kernel = input_shape, 0, spec.kernel_size
    channels = colors[0] if colors else 1
    blocks = [[filters] for filters in spec.filters] if spec.family == "lenet" else spec.blocks
    for block in blocks:
        for filters in block:
            height, width = height - kernel + 1, width - kernel + 1  # no padding
            total += height * width * kernel * kernel * channels * filters
            channels = filters
        height, width = height // 2, width // 2
    return total + height * width * channels * spec.dense_units + spec.dense_units * num_classes


def microseconds_per_image(
    spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int, batch_size: int
) -> float:
    """The table's estimate for `spec` trained at `batch_size` (the row of the nearest
    measured batch size, on a log scale)."""
    family = "mlp" if spec.family == "mlp" else "cnn"
    rows = [batch for kind, batch in COSTS if kind == family]
    nearest = min(rows, key=lambda batch: abs(math.log(batch / batch_size)))
    fixed, per_million = COSTS[family, nearest]
    return fixed + per_million * multiply_adds(spec, input_shape, num_classes) / 1e6


def training_seconds(
    spec: ModelSpec,
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    batch_size: int,
    images: int,
    epochs: int,
) -> float:
    """The table's estimate of training `spec` on `images` images for `epochs` epochs:
    what a tie between two models trained so is settled by (the cheaper is kept)."""
    return microseconds_per_image(spec, input_shape, num_classes, batch_size) * images * epochs / 1e6


# What a decision between two trained models names as the cost it compared on a tie.
TRAINING_COST = f"estimated seconds of training as train_final trains, on the {REFERENCE_MACHINE}"


def budget_sentence(budget: dict) -> str:
    """What a search space's budget allowed (stages.lib.search.spaces.fit_budget's
    record), in a line for cv_search's log and the report."""
    sizes = ", ".join(f"{key} {value}" for key, value in budget["largest"].items())
    allowed = (
        f"The largest model ({sizes}) takes about {budget['largest_minutes']:.1f} min of train_final "
        f"({budget['images']:,} images x {budget['epochs']} epochs), within max_train_final_minutes "
        f"{budget['max_train_final_minutes']:g}"
    )
    if not budget["lowered"]:
        return f"{allowed}."
    changes = ", ".join(f"{key} high {c['from']} -> {c['to']}" for key, c in budget["lowered"].items())
    return f"{allowed}: {changes} to fit."
