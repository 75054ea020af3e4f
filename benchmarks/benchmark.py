"""Benchmark a full default run of the pipeline and print one table.

    python benchmarks/benchmark.py [--repo .] [--json results.json]

Clones the repository's committed HEAD into a temporary folder and, with a fresh DVC
cache there, runs every stage with `dvc repro --single-item STAGE`, measuring each
one's wall time and peak memory (the stage's processes, as GNU time reports). Then:
images/s of each training stage (median epoch, first epoch left out, from the time per
step that Keras prints after each epoch in the stage's log) against a bare Keras
`model.fit` of the same model and data with no callback, timed the same way (numpy
arrays; for an augmented model, the same augmented tf.data stream), and the GFLOP/s
that makes (6 FLOPs per multiply-add and image: forward and backward) as a fraction
of a float32 matmul's GFLOP/s measured at the start of the same run, the most these
cores do; the wall
time of a no-op `dvc repro` and of `dvc status`; the final model's prediction
throughput (on training images: the test set is evaluate's alone); and each model's
test accuracy from metrics/evaluate.json. Offline, set DATASET_MIRROR. Not part of the
test suite: the figures depend on the machine and on what else runs on it.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

# Keras' line after each epoch (verbose=2): "422/422 - 13s - 31ms/step - accuracy: ..."
EPOCH_LINE = re.compile(r"^(\d+)/\1 - \d+s - (\d+(?:\.\d+)?)(us|ms|s)/step", re.MULTILINE)
UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}

BARE_FIT = """
import json, sys
from stages.lib.core.cli import configure_tensorflow
configure_tensorflow()
import keras
from stages.lib.core.artifacts import load_arrays, load_images
from stages.lib.training.models import build_model
from stages.lib.core.specs import validate_spec
from stages.lib.training.batches import training_batches
from stages.lib.training.fitting import one_hot

spec, train_paths, validation, batch_size, epochs, seed = json.loads(sys.argv[1])
spec = validate_spec(spec, "spec")
x, y = load_images(*train_paths)
classes = int(y.max()) + 1
y = one_hot(y, classes)  # what the compiled loss compares with
x_validation, y_validation = load_arrays(validation, "x", "y")
validation = (x_validation, one_hot(y_validation, classes))
keras.utils.set_random_seed(seed)
model = build_model(spec, x.shape[1:], classes, epochs * -(-len(x) // batch_size))
if spec.augmentation.enabled:  # the same augmented stream as the pipeline's
    data = {"x": training_batches(x, y, spec.augmentation, batch_size, seed),
            "steps_per_epoch": -(-len(x) // batch_size)}
else:  # plain Keras: numpy arrays, shuffled by Keras
    data = {"x": x, "y": y, "batch_size": batch_size}
model.fit(**data, epochs=epochs, verbose=2, validation_data=validation, validation_batch_size=1024)
"""

PREDICT = """
import json, time
from stages.lib.core.cli import configure_tensorflow
configure_tensorflow()
from stages.lib.core.artifacts import load_arrays
from stages.lib.core.model_files import chosen_final, load_model
from stages.lib.core.paths import PREPARED_DIR, model_path
final = chosen_final()
model = load_model(model_path(final))
x = load_arrays(PREPARED_DIR / "train.npz", "x")[0][:10000]
model.predict(x, batch_size=1024, verbose=0)
runs = []
for _ in range(3):
    started = time.perf_counter()
    model.predict(x, batch_size=1024, verbose=0)
    runs.append(time.perf_counter() - started)
print(json.dumps({"final": final, "images_per_second": len(x) / min(runs)}))
"""


def timed(command, cwd, env):
    """(wall seconds, peak RSS in GiB of the command and its children, stdout)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed:\n{output}")
    return wall, usage.ru_maxrss / 2**20, output


def stage_names(project: Path) -> list[str]:
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    return [
        f"{name}@{item}" if "foreach" in stage else name
        for name, stage in stages.items()
        for item in stage.get("foreach", [None])
    ]


def step_seconds(log: str) -> float:
    """The median training step's seconds over the epochs a Keras log reports (the
    first left out: it includes tracing)."""
    steps = [float(time) * UNIT_SECONDS[unit] for _, time, unit in EPOCH_LINE.findall(log)]
    return statistics.median(steps[1:] if len(steps) > 1 else steps)


def training_settings(stage: str, params: dict, project: Path) -> tuple[dict, list[str], str, int]:
    """A training stage's (model spec, training data files, held-out file, batch size)."""
    if stage.startswith("train_final@"):
        space = stage.split("@")[1]
        spec = json.loads((project / f"models/best_config/{space}.json").read_text())
        return (
            spec,
            ["data/split/search.npz", "data/split/validation.npz"],
            "data/split/holdout.npz",
            params["train_final"][space]["batch_size"],
        )
    section = params[stage]
    return section["model"], ["data/split/train.npz"], "data/split/validation.npz", section["batch_size"]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", type=Path, help="run in this folder (kept) instead of a temporary one")
    parser.add_argument("--bare-epochs", type=int, default=3, help="epochs of each bare Keras reference fit")
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))  # the project's own cost and spec code
    from stages.lib.core.costs import multiply_adds
    from stages.lib.core.specs import validate_spec

    with tempfile.TemporaryDirectory() as temporary:
        work = args.keep or Path(temporary)
        project = work / "project"
        subprocess.run(["git", "clone", "--quiet", str(args.repo.resolve()), str(project)], check=True)
        env = {
            **os.environ,
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(work / "dvc-site-cache"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        # What a run commits to git (dvc.lock, metrics, the report) is made afresh.
        subprocess.run(
            ["git", "rm", "-r", "--quiet", "--ignore-unmatch", "dvc.lock", "metrics"], cwd=project, check=True
        )
        params = yaml.safe_load((project / "params.yaml").read_text())
        matmul = matmul_gflops()

        rows = []
        for stage in stage_names(project):
            print(f"running {stage} ...", file=sys.stderr, flush=True)
            wall, memory, log = timed(["dvc", "repro", "--single-item", stage], project, env)
            rows.append({"stage": stage, "wall_s": wall, "peak_gib": memory, "log": log})
        total = sum(row["wall_s"] for row in rows)

        for row in rows:
            log = row.pop("log")
            if row["stage"].startswith("train_"):
                print(f"bare Keras reference for {row['stage']} ...", file=sys.stderr, flush=True)
                spec, train_files, held_out, batch_size = training_settings(row["stage"], params, project)
                arguments = [spec, train_files, held_out, batch_size, args.bare_epochs, params["seed"]]
                _, _, bare_log = timed([sys.executable, "-c", BARE_FIT, json.dumps(arguments)], project, env)
                pipeline, bare = step_seconds(log), step_seconds(bare_log)
                row["images_per_s"], row["bare_images_per_s"] = batch_size / pipeline, batch_size / bare
                row["ratio"] = pipeline / bare
                row["gflops"] = (
                    row["images_per_s"] * 6 * multiply_adds(validate_spec(spec, "spec"), (28, 28), 10) / 1e9
                )
                row["matmul_fraction"] = row["gflops"] / matmul

        noop_repro, _, _ = timed(["dvc", "repro"], project, env)
        status, _, _ = timed(["dvc", "status"], project, env)
        scores = json.loads((project / "metrics/evaluate.json").read_text())
        _, _, output = timed([sys.executable, "-c", PREDICT], project, env)
        prediction = json.loads(output.strip().splitlines()[-1])

    figures = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "matmul_gflops": matmul,
        "stages": rows,
        "total_s": total,
        "noop_repro_s": noop_repro,
        "status_s": status,
        "final": prediction["final"],
        "predict_images_per_s": prediction["images_per_second"],
        "test_accuracy": {name: value["accuracy"] for name, value in scores.items()},
    }
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """A float32 matmul's GFLOP/s with numpy (2 n^3 FLOPs each)."""
    import numpy as np

    a, b = np.random.default_rng(0).random((2, size, size), dtype=np.float32)
    a @ b  # warm up
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


# The vector extensions that decide how fast TensorFlow's CPU kernels run (lscpu's flags).
VECTOR_FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX-512 BF16", "amx_tile": "AMX"}


def machine() -> str:
    cpu, flags = platform.machine(), set()
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    vector = ", ".join(name for flag, name in VECTOR_FLAGS.items() if flag in flags) or "no AVX2"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu} ({vector}), {os.cpu_count()} CPUs, {memory:.0f} GiB"


def report(figures) -> str:
    lines = [
        f"Benchmark of a full default run, {figures['date']}, {figures['machine']}",
        "",
        f"A float32 matmul (numpy, 2048 x 2048): {figures['matmul_gflops']:.0f} GFLOP/s.",
        "",
        "| stage | wall time | peak memory | images/s | bare Keras images/s | step time, pipeline / bare "
        "| GFLOP/s | of the matmul's |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in figures["stages"]:
        speed = (
            f"{row['images_per_s']:,.0f} | {row['bare_images_per_s']:,.0f} | {row['ratio']:.2f}x | "
            f"{row['gflops']:.1f} | {row['matmul_fraction']:.0%}"
            if "ratio" in row
            else " | | | | "
        )
        lines.append(f"| {row['stage']} | {row['wall_s']:,.1f} s | {row['peak_gib']:.2f} GiB | {speed} |")
    lines.append(f"| all | {figures['total_s']:,.0f} s ({figures['total_s'] / 60:.1f} min) | | | | | | |")
    lines += [
        "",
        f"no-op `dvc repro`: {figures['noop_repro_s']:.1f} s; `dvc status`: {figures['status_s']:.1f} s",
        f"prediction, final model ({figures['final']}): {figures['predict_images_per_s']:,.0f} images/s",
        "",
        "| model | test accuracy |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {accuracy:.4f} |" for name, accuracy in figures["test_accuracy"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
