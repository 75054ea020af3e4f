"""A user's fresh clone: no ../shared beside it, the dataset from wherever it can be
had, and a plain failure where it can be had from nowhere. Runs pytest itself on
tests/test_idx.py in a copy of the repository, a part of the suite that has one test
on the real files and many without them."""

import functools
import http.server
import os
import re
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager

import pytest
import yaml

from stages.lib.data.fetching import MIRROR_ENVS
from tests.copies import copy_repository
from tests.idx_files import MNIST_FILES
from tests.real_data import CACHE_ENV

pytestmark = pytest.mark.slow


@contextmanager
def http_mirror(folder):
    """An HTTP server on 127.0.0.1 serving `folder`; yields its URL and the list of
    paths requested from it."""
    requested = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            requested.append(self.path)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", requested
    finally:
        server.shutdown()
        server.server_close()


def run_tests(clone, cache, *options, **environ) -> subprocess.CompletedProcess:
    """pytest on tests/test_idx.py in `clone`, with `cache` as the dataset cache and no
    dataset source in the environment but those given."""
    env = {name: value for name, value in os.environ.items() if name not in (*MIRROR_ENVS, CACHE_ENV)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        f"--basetemp={clone.parent / 'pytest'}",
        *options,
        "tests/test_idx.py",
    ]
    return subprocess.run(
        command,
        cwd=clone,
        env={**env, CACHE_ENV: str(cache), "COLUMNS": "200", **environ},
        capture_output=True,
        text=True,
        timeout=600,
    )


def user_clone(tmp_path):
    clone = copy_repository(tmp_path / "home" / "mnist-dvc")
    assert not (clone.parent / "shared").exists() and not (clone / "data" / "raw").exists()
    return clone


def test_a_fresh_clone_fetches_the_dataset_once_from_a_url(tmp_path, dataset_folder):
    clone, cache = user_clone(tmp_path), tmp_path / "cache"
    with http_mirror(dataset_folder) as (url, requested):
        first = run_tests(clone, cache, "-n", "0", DATASET_MIRROR=url)  # one process: quicker
    assert first.returncode == 0, first.stdout[-5000:]
    assert re.search(r"\b\d+ passed\b", first.stdout.splitlines()[-1]), first.stdout[-2000:]
    assert sorted(requested) == sorted(f"/{name}" for name in MNIST_FILES.values())
    # Kept in the cache: the next session needs no source at all.
    again = run_tests(clone, cache, "-n", "0", MNIST_MIRROR="/nowhere")
    assert again.returncode == 0, again.stdout[-5000:]


def test_a_fresh_clone_with_no_source_fails_plainly_once(tmp_path):
    clone = user_clone(tmp_path)
    with socket.socket() as probe:  # a port nobody listens on stands for the unreachable public mirrors
        probe.bind(("127.0.0.1", 0))
        unreachable = f"http://127.0.0.1:{probe.getsockname()[1]}/mnist/"
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["dataset"]["mirrors"] = [unreachable]
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    result = run_tests(clone, tmp_path / "cache")  # as a user runs it: two test processes
    assert result.returncode == 1, result.stdout[-5000:]
    summary = result.stdout.splitlines()[-1]
    assert re.fullmatch(r"=+ \d+ passed, 1 error in .*", summary), summary  # only the real-file test
    assert "ERROR tests/test_idx.py::test_real_mnist_files - Failed: no real dataset files" in result.stdout
    assert result.stdout.count("real dataset files ==") == 1  # the reason, once
    reason = result.stdout.split("real dataset files ==", 1)[1]
    assert "the tests that train on real images need MNIST's files and found them nowhere" in reason
    assert f"{unreachable}train-images-idx3-ubyte.gz: unreachable (" in reason
    assert "Set DATASET_MIRROR to a folder or URL" in reason
    assert "Traceback" not in result.stdout and result.stdout.count("could not fetch") == 1
