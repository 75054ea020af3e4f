"""The server and `predict` against the code of an earlier commit, in one run, on this
workspace's trained models (after `dvc repro`).

    python -m benchmarks.serving [--before 8b23114] [--clients 1 4 16 64] [--requests 50]
        [--files 10000] [--variant "--max-wait 2" ...]

`--before` (a commit: by default the last one that served with Keras one request at a
time) is checked out in a temporary git worktree, and its `stages.serve` and
`stages.predict` run on this workspace's files, as this code's do, without the packages
it did not install (uvloop and httptools, which uvicorn would otherwise use); and its
server again with them (`--before` + uvloop). For each server (those, this code with its
defaults, and each --variant: this code with those flags), in its own process:
`--requests` requests per client (200 at least) of one 140x140 PNG of a test digit (dark
on light, as people scan them), from 1, 4, 16 and 64 concurrent clients, each with its
own connection (benchmarks/serve_load.py); prints per level the pictures answered per
second and the p50 and p99 latency, then the server's peak resident memory. Then
`--files` test digits saved as such PNG files, and one broken file among them,
classified by each `predict` (the earlier one given every file's path, this one the
folder), timed from start to exit; and the answers compared: this predict's, and this
server's (every file sent, 8 per request), with the earlier predict's (Keras): the same
class for every file, and the largest probability difference. Local only: the clients
run on the same cores as the server, and the figures depend on the machine and on what
else runs on it.
"""

import argparse
import contextlib
import csv
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import numpy as np
from PIL import Image

from benchmarks.serve_load import load
from benchmarks.serve_worst_case import memory
from stages.lib.core.artifacts import load_arrays
from stages.lib.core.paths import PREPARED_DIR

REPO = Path(__file__).resolve().parents[1]
BEFORE = "8b23114"  # the last commit that served with Keras, one request at a time
SCALE = 5  # 28x28 digits as 140x140 scans
ADDED_PACKAGES = ["uvloop", "httptools"]  # in requirements-common.txt since BEFORE


def scan(digit: np.ndarray) -> bytes:
    """A prepared test digit as a 140x140 PNG, dark on light."""
    pixels = np.round(255 * (1 - np.kron(digit, np.ones((SCALE, SCALE))))).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def without(packages: list[str], folder: Path) -> Path:
    """A folder that, first on Python's path, makes `packages` fail to import."""
    folder.mkdir(exist_ok=True)
    for package in packages:
        (folder / f"{package}.py").write_text(
            f"raise ImportError('{package} is hidden by benchmarks/serving.py')\n"
        )
    return folder


@contextlib.contextmanager
def server(code: list[Path], flags: list[str], port: int, log: Path):
    """`python -m stages.serve` of the code in `code` (folders, first on Python's path) on
    this workspace: its URL and process. (-P: the code is `code`'s, not the working
    directory's.)"""
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-P", "-m", "stages.serve", "--port", str(port), *flags],
            env=os.environ | {"PYTHONPATH": os.pathsep.join(map(str, code))},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start:\n{log.read_text()}")
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(f"{url}/health").status_code == 200:
                    break
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def load_levels(url: str, picture: bytes, clients: list[int], requests: int) -> list[dict]:
    load(url, picture, requests=20, clients=1)  # warm-up: connections, caches
    levels = []
    for count in clients:
        start = time.perf_counter()
        figures = load(url, picture, requests=max(200, requests * count), clients=count)
        levels.append(
            figures | {"clients": count, "per_second": figures["ok"] / (time.perf_counter() - start)}
        )
    return levels


def served_answers(url: str, files: list[Path]) -> dict[str, np.ndarray]:
    """Every picture file's probabilities from the server, 8 files per request."""

    def send(group: list[Path]) -> list[tuple[str, np.ndarray]]:
        response = httpx2.post(
            f"{url}/predict", files=[("file", (str(path), path.read_bytes())) for path in group], timeout=60
        )
        response.raise_for_status()
        return [
            (a["file"], np.array(list(a["probabilities"].values()))) for a in response.json()["predictions"]
        ]

    groups = [files[start : start + 8] for start in range(0, len(files), 8)]
    with ThreadPoolExecutor(8) as pool:
        return dict(answer for answers in pool.map(send, groups) for answer in answers)


def timed_predict(code: Path, arguments: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-P", "-m", "stages.predict", *arguments],
        env=os.environ | {"PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, result


def compare(answers: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> str:
    common = sorted(set(answers) & set(reference))
    same = sum(answers[file].argmax() == reference[file].argmax() for file in common)
    largest = max(float(np.abs(answers[file] - reference[file]).max()) for file in common)
    return (
        f"the same class for {same:,} of {len(common):,} files, largest probability difference {largest:.2g}"
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", default=BEFORE, help=f"the earlier commit (default: {BEFORE})")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument(
        "--requests", type=int, default=50, help="requests per client at each level (200 in all at least)"
    )
    parser.add_argument(
        "--files", type=int, default=10_000, help="test digits saved as PNG files for predict"
    )
    parser.add_argument("--variant", action="append", default=[], help="this server with these flags too")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    test_images, _ = load_arrays(PREPARED_DIR / "test.npz", "x", "y")
    picture = scan(test_images[0])
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        before = scratch / "before"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(before), args.before],
            check=True,
        )
        try:
            hidden = without(ADDED_PACKAGES, scratch / "hidden")
            servers = [
                (f"{args.before} (before)", [hidden, before], []),
                (f"{args.before} + uvloop", [before], []),
                ("this code", [REPO], []),
            ]
            servers += [(f"this code {variant}", [REPO], shlex.split(variant)) for variant in args.variant]
            print(f"{'server':<32} {'clients':>7} {'pictures/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'ok':>9}")
            for name, code, flags in servers:
                with server(code, flags, args.port, scratch / "serve.log") as (url, process):
                    for level in load_levels(url, picture, args.clients, args.requests):
                        print(
                            f"{name:<32} {level['clients']:>7} {level['per_second']:>10,.0f} "
                            f"{1000 * level['p50']:>8.1f} {1000 * level['p99']:>8.1f} "
                            f"{level['ok']:>4}/{level['requests']:<4}",
                            flush=True,
                        )
                    print(f"{name:<32} peak resident memory {memory(process.pid, 'VmHWM'):,} MB", flush=True)
                print("   ", (scratch / "serve.log").read_text().splitlines()[0][:160], flush=True)

            folder = scratch / "scans"
            folder.mkdir()
            files = [folder / f"{index:05d}.png" for index in range(min(args.files, len(test_images)))]
            for path, digit in zip(files, test_images, strict=False):
                path.write_bytes(scan(digit))
            (folder / "broken.png").write_bytes(b"\x89PNG and nothing more")
            every = [*map(str, files), str(folder / "broken.png")]
            seconds, result = timed_predict(before, ["--json", *every])
            reference = {
                a["file"]: np.array(list(a["probabilities"].values()))
                for a in json.loads(result.stdout)["predictions"]
                if "error" not in a
            }
            print(
                f"predict {args.before} (before): {len(every):,} files in {seconds:.1f} s, "
                f"{len(reference):,} classified; standard error: {result.stderr.strip()[:120]!r}"
            )
            seconds_now, result = timed_predict(REPO, ["--format", "csv", str(folder)])
            rows = list(csv.DictReader(io.StringIO(result.stdout)))
            answers = {
                row["file"]: np.array([float(row[k]) for k in row if k.startswith("p_")]) for row in rows
            }
            print(
                f"predict, this code: {len(every):,} files in {seconds_now:.1f} s "
                f"({seconds / seconds_now:.1f} times faster), "
                f"{len(answers):,} classified; standard error: {result.stderr.strip()[:120]!r}"
            )
            print("predict, this code, against the earlier predict (Keras):", compare(answers, reference))
            with server([REPO], [], args.port, scratch / "serve.log") as (url, _):
                served = served_answers(url, files)
            print("this server against the earlier predict (Keras):", compare(served, reference))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)], check=True)


if __name__ == "__main__":
    main()
