"""Measure stages/lib/core/costs.py's table on this machine and print it as Python.

    python -m benchmarks.costs [--images 8192]   (from the repository's root)

For each (family, batch size) row: three models, small to large, each trained through
the pipeline's own build_model and training_batches (affine augmentation on) for two
epochs on `--images` random 28x28 images (the time does not depend on what they show);
the second epoch's seconds per image (the first pays for tracing), and a least-squares
line through the three: microseconds per image against million multiply-adds per image.
Also a float32 matmul's GFLOP/s, what the machine can do at best. Run it on a quiet
machine: another process on the same cores slows every figure.
"""

import argparse
import time

import numpy as np

MODELS = {
    "mlp": [[256, 256], [1024, 1024], [2048, 2048, 2048]],
    "cnn": [([16], [32], 64), ([32], [64], 128), ([64], [128], 512)],
}
ROWS = [("mlp", 128), ("mlp", 512), ("cnn", 128), ("cnn", 256)]
AUGMENTATION = {"rotation": 10, "shift": 2, "scale": 0.1}


def spec_of(family: str, size):
    from stages.lib.core.specs import validate_spec

    common = {"optimizer": "adamw", "learning_rate": 1e-3, "lr_schedule": "cosine"}
    common["augmentation"] = AUGMENTATION
    if family == "mlp":
        return validate_spec({"family": "mlp", "hidden_units": size, "dropout": 0.2, **common}, "mlp")
    first, second, dense = size
    cnn = {"family": "cnn", "blocks": [first, second], "kernel_size": 5, "dense_units": dense, "dropout": 0.4}
    return validate_spec({**cnn, **common}, "cnn")


def seconds_per_image(spec, x, y, batch_size: int) -> float:
    import keras

    from stages.lib.training.fitting import fit, new_model

    class EpochTimes(keras.callbacks.Callback):
        times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.started)

    keras.backend.clear_session()
    model = new_model(spec, x, 10, epochs=2, batch_size=batch_size, seed=0)
    timer = EpochTimes()
    fit(
        model,
        spec.augmentation,
        (x, y),
        (x[:256], y[:256]),
        epochs=2,
        batch_size=batch_size,
        seed=0,
        callbacks=[timer],
    )
    return timer.times[-1] / len(x)


def main():
    from benchmarks.benchmark import matmul_gflops
    from stages.lib.core.cli import configure_tensorflow
    from stages.lib.core.costs import multiply_adds

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=8192)
    args = parser.parse_args()
    configure_tensorflow()
    rng = np.random.default_rng(0)
    x, y = rng.random((args.images, 28, 28), dtype=np.float32), rng.integers(10, size=args.images)
    print(f"float32 matmul: {matmul_gflops():.0f} GFLOP/s (numpy)")
    print("COSTS = {")
    for family, batch_size in ROWS:
        millions, micros = [], []
        for size in MODELS[family]:
            spec = spec_of(family, size)
            millions.append(multiply_adds(spec, (28, 28), 10) / 1e6)
            micros.append(seconds_per_image(spec, x, y, batch_size) * 1e6)
            gflops = 6 * millions[-1] * 1e6 / (micros[-1] * 1e-6) / 1e9  # forward + backward: 3x 2 FLOPs
            figures = f"{millions[-1]:.2f} M multiply-adds, {micros[-1]:.1f} us/image, {gflops:.0f} GFLOP/s"
            print(f"    # {size}: {figures}")
        per_million, fixed = np.polyfit(millions, micros, 1)
        print(f"    ({family!r}, {batch_size}): ({max(fixed, 0.0):.1f}, {per_million:.1f}),")
    print("}")


if __name__ == "__main__":
    main()
