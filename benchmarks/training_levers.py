"""Training throughput per lever: images per second and the share of this machine's
float32 matmul peak, for the spaces' default models and train_baseline's and
train_big's, as the pipeline trains them.

    python -m benchmarks.training_levers [--images 16384] [--levers NAME ...]

Each lever runs in a fresh process (thread settings only take effect before TensorFlow
starts): the model built by build_model and fitted by the pipeline's fit() on the
augmented stream, for two epochs of `--images` random 28x28 images (the time does not
depend on what they show); the second epoch is timed (the first pays for tracing). A
joint lever trains two models at once (fitting.jointly, as train_final's duel does) and
counts each image once per model. Run it on a quiet machine, and compare levers within
one run: another process on the same cores slows every figure. `--checkout PATH` runs
the levers in another checkout of the repository (a clone of an earlier commit: its
figures are the "before" of the same run); a joint lever needs fitting.jointly there.
"""

import argparse
import json
import os
import subprocess
import sys
import time

# name: (model (model_spec), batch size, steps per execution, models trained at once,
# TF threads (intra-op, inter-op) or None for TensorFlow's defaults)
LEVERS = {
    "cnn": ("cnn", 128, 1, 1, None),
    "cnn steps_per_execution 16": ("cnn", 128, 16, 1, None),
    "cnn batch 256": ("cnn", 256, 1, 1, None),
    "cnn threads 1+2": ("cnn", 128, 1, 1, (1, 2)),
    "cnn x2 jointly": ("cnn", 128, 1, 2, None),
    "cnn x2 jointly, steps_per_execution 16": ("cnn", 128, 16, 2, None),
    "cnn x2 jointly, threads 1+2": ("cnn", 128, 1, 2, (1, 2)),
    "mlp": ("mlp", 512, 1, 1, None),
    "mlp steps_per_execution 16": ("mlp", 512, 16, 1, None),
    "baseline": ("baseline", 128, 1, 1, None),
    "baseline steps_per_execution 16": ("baseline", 128, 16, 1, None),
    "big": ("big", 128, 1, 1, None),
    "big steps_per_execution 16": ("big", 128, 16, 1, None),
}

MEASURE = """
import inspect, json, sys, time
import numpy as np
from stages.lib.core.cli import configure_tensorflow
configure_tensorflow()
import tensorflow as tf
spec, batch_size, steps, members, threads, images = json.loads(sys.argv[1])
if threads:
    tf.config.threading.set_intra_op_parallelism_threads(threads[0])
    tf.config.threading.set_inter_op_parallelism_threads(threads[1])
from stages.lib.core.specs import validate_spec
from stages.lib.training import fitting
from stages.lib.training.fitting import fit, new_model
spec = validate_spec(spec, "the lever's model")
rng = np.random.default_rng(0)
x, y = rng.random((images, 28, 28), dtype=np.float32), rng.integers(10, size=images)
models = {f"m{i}": new_model(spec, x, 10, epochs=2, batch_size=batch_size, seed=i) for i in range(members)}
model = fitting.jointly(models) if members > 1 else models["m0"]
model.steps_per_execution = steps
# fit's second argument: the augmentation (an earlier commit's: the whole spec)
recipe = spec.augmentation if "augmentation" in inspect.signature(fit).parameters else spec
settings = {"batch_size": batch_size, "seed": 0}
fit(model, recipe, (x, y), None, epochs=1, **settings)  # traces the step
started = time.perf_counter()
fit(model, recipe, (x, y), None, epochs=2, initial_epoch=1, **settings)
print(json.dumps(time.perf_counter() - started))
"""


def model_spec(params, model: str):
    """The default model of the space `model`, or train_baseline's or train_big's."""
    return getattr(params.cv_search.spaces, model, None) or getattr(params, f"train_{model}")


def seconds(lever, spec, images: int, checkout: str) -> float:
    _, batch_size, steps, members, threads = LEVERS[lever]
    args = json.dumps([spec.model_dump(), batch_size, steps, members, threads, images])
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, args],
        cwd=checkout,
        env=os.environ | {"PYTHONPATH": checkout},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{lever}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    from benchmarks.benchmark import machine, matmul_gflops
    from stages.lib.core.config import load_params
    from stages.lib.core.costs import multiply_adds

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=16384)
    parser.add_argument("--levers", nargs="+", choices=list(LEVERS), default=list(LEVERS))
    parser.add_argument("--checkout", default=".", help="the checkout whose code trains (default: this one)")
    args = parser.parse_args()
    params = load_params()
    peak = matmul_gflops()
    print(f"{machine()}; a float32 matmul (numpy, 2048 x 2048): {peak:.0f} GFLOP/s")
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, the code of {os.path.abspath(args.checkout)}")
    print("| lever | images/s (x models) | GFLOP/s | of the matmul's |")
    print("| --- | ---: | ---: | ---: |")
    for lever in args.levers:
        model, _, _, members, _ = LEVERS[lever]
        spec = model_spec(params, model).model
        rate = args.images * members / seconds(lever, spec, args.images, os.path.abspath(args.checkout))
        gflops = 6 * multiply_adds(spec, (28, 28), 10) * rate / 1e9  # forward + backward
        print(f"| {lever} | {rate:,.0f} | {gflops:.1f} | {gflops / peak:.0%} |", flush=True)


if __name__ == "__main__":
    main()
