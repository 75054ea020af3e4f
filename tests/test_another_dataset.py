"""The pipeline on another dataset: a synthetic one with three named classes and 12x16
images, run end to end; experiments on it, queued and restored from the run cache;
and its project shared between two clones through a git remote and a DVC remote (a
directory, and a real S3 server).

Each test starts from the committed, reproduced project (`shapes_project`, shared by
the module) and leaves it so; those that need experiments take them from `sweep`."""

import copy
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.idx_files import write_mirror
from tests.projects import ALL_STAGES, SMALL_SETTINGS, Project, experiments, reproduced_project

pytestmark = [pytest.mark.slow, pytest.mark.project]


SHAPES = ["ring", "bar", "cross"]


def shapes(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` 12x16 images of noise with a bright 7x7 ring, bar or cross near the
    middle, and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(len(SHAPES), size=count).astype(np.uint8)
    images = rng.integers(0, 60, size=(count, 12, 16)).astype(np.uint8)
    rows, columns = np.mgrid[-3:4, -3:4]
    masks = [np.abs(np.hypot(rows, columns) - 3) < 0.7, np.abs(columns) <= 1, (rows == 0) | (columns == 0)]
    for image, label, top, left in zip(
        images, labels, rng.integers(2, 4, count), rng.integers(3, 7, count), strict=True
    ):
        image[top : top + 7, left : left + 7][masks[label]] = 255
    return images, labels


@pytest.fixture(scope="module")
def shapes_project(tmp_path_factory) -> Project:
    """The project on a synthetic dataset: 3 named classes, 12x16 images."""
    mirror = tmp_path_factory.mktemp("shapes")
    dataset = {
        "name": "Shapes",
        "classes": SHAPES,
        "mirrors": [],
        "files": write_mirror(mirror, shapes(2400, 0), shapes(300, 1), prefix="shapes-"),
    }
    settings = copy.deepcopy(SMALL_SETTINGS)
    settings["split"]["validation_size"] = 300
    settings["cv_search"]["spaces"]["cnn"]["model"]["kernel_size"] = 3  # 12 rows: 10, 5, 3, 1
    return reproduced_project(tmp_path_factory, mirror, {"dataset": dataset, **settings})


def test_another_dataset_runs_end_to_end_under_its_own_names(shapes_project):
    assert sorted(shapes_project.first_run) == sorted(ALL_STAGES)
    scores = shapes_project.read_json("metrics/evaluate.json")
    accuracy = {name: round(scores[name]["accuracy"], 3) for name in scores}
    assert accuracy["baseline"] > 0.9 and accuracy["final"] > 0.6, accuracy  # chance: 1/3
    report = (shapes_project.root / "metrics/evaluate/report.md").read_text()
    assert report.startswith("# Shapes: the evaluation report")
    assert "Shapes's 12x16 grayscale images into 3 classes (ring, bar, cross)" in report
    assert not re.search("digit|mnist", report, re.IGNORECASE), report
    per_class = (shapes_project.root / "metrics/evaluate/per_class.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in per_class[1:4]] == SHAPES
    predictions = (
        (shapes_project.root / "metrics/evaluate/predictions_cnn_final.csv").read_text().splitlines()
    )
    assert {value for line in predictions[1:] for value in line.split(",")} <= set(SHAPES)
    # what it releases says what it is: the model card and dvc.yaml's artifacts
    card = (shapes_project.root / "models/export/final/README.md").read_text()
    assert "an image classifier trained on Shapes" in card and "- Classes: ring, bar, cross." in card
    assert not re.search("digit|mnist", card, re.IGNORECASE), card
    declared = (
        "import json; from dvc.repo import Repo; "
        "print(json.dumps({n: a.to_dict() for n, a in Repo().artifacts.read()['dvc.yaml'].items()}))"
    )
    artifacts = json.loads(shapes_project.run(sys.executable, "-c", declared).splitlines()[0])
    assert artifacts["classifier"]["labels"] == ["Shapes", "image-classification", "keras"]
    assert artifacts["classifier"]["meta"]["dataset"] == "Shapes"
    assert artifacts["classifier"]["desc"].startswith("The Shapes image classifier")
    assert artifacts["prepared-images"]["type"] == "dataset"

    np.save(shapes_project.root / "some.npy", shapes(4, 2)[0])
    result = subprocess.run(
        [sys.executable, "-m", "stages.predict", "--json", "some.npy"],
        cwd=shapes_project.root,
        env=shapes_project.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert [a["index"] for a in answer["predictions"]] == [0, 1, 2, 3]
    assert {a["class"] for a in answer["predictions"]} <= set(SHAPES)


SWEEP = {"baseline-1": "train_baseline.epochs=1", "baseline-3": "train_baseline.epochs=3"}


@pytest.fixture(scope="module")
def sweep(shapes_project) -> dict[str, dict]:
    """SWEEP's experiments of the shapes project, queued and run two at a time: by name,
    their params and metrics."""
    project = shapes_project
    for name, change in SWEEP.items():
        project.run("dvc", "exp", "run", "--queue", "--name", name, "-S", change)
    project.run("dvc", "queue", "start", "--jobs", "2")
    deadline = time.monotonic() + 600
    while re.search(r"\b(Queued|Running)\b", project.run("dvc", "queue", "status")):
        assert time.monotonic() < deadline, project.run("dvc", "queue", "status")
        time.sleep(3)
    assert "Failed" not in project.run("dvc", "queue", "status")
    return {name: experiment for name, experiment in experiments(project).items() if name in SWEEP}


def test_queued_experiments_run_with_their_own_params(sweep):
    assert sorted(sweep) == sorted(SWEEP)
    for name, epochs in (("baseline-1", 1), ("baseline-3", 3)):
        assert sweep[name]["params"]["train_baseline"]["epochs"] == epochs
        assert sweep[name]["metrics"]["metrics/train_baseline/metrics.json"]["step"] == epochs - 1
        assert "accuracy" in sweep[name]["metrics"]["metrics/evaluate.json"]["baseline"]


def test_a_swept_value_asked_for_again_comes_from_the_run_cache(shapes_project, sweep):
    """Every stage but evaluate keeps a run cache: the sweep's epochs=1 run, asked for
    again in the workspace, is restored, not retrained. (Another machine cannot do this
    with DVC 3.67: it pushes a run's cached outputs but not its cache: false metrics
    file.)"""
    project = shapes_project
    project.edit_params("train_baseline", epochs=1)
    try:
        log = project.run("dvc", "repro", "train_baseline")
        assert "Stage 'train_baseline' is cached - skipping run, checking out outputs" in log, log
        restored = project.read_json("metrics/train_baseline/metrics.json")
        assert restored == sweep["baseline-1"]["metrics"]["metrics/train_baseline/metrics.json"]
    finally:
        project.restore()


@pytest.fixture
def s3_server():
    """A real S3-compatible server (moto) on 127.0.0.1 with an empty bucket; yields its
    endpoint. Any credentials are accepted; they come from the environment."""
    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "moto_server did not start"
                time.sleep(0.2)
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **S3_CREDENTIALS).create_bucket(
            Bucket="mnist-dvc"
        )
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


S3_CREDENTIALS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}


@pytest.mark.parametrize("kind", ["directory", "s3"])
def test_a_second_clone_pulls_results_and_experiments_and_recomputes_nothing(
    shapes_project, sweep, tmp_path, kind, request
):
    """Machine A (the shapes project, with its committed run and the sweep's
    experiments) shares through a git remote and a DVC remote; machine B clones, pulls
    and reproduces: nothing is recomputed, and (S3) A's experiments come across with
    their outputs."""
    project = shapes_project
    env = {
        **project.env,
        "AWS_ACCESS_KEY_ID": S3_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": S3_CREDENTIALS["aws_secret_access_key"],
    }
    origin = tmp_path / "origin.git"
    url = "s3://mnist-dvc/cache" if kind == "s3" else str(tmp_path / "dvc-remote")

    def use_remote(machine: Project) -> None:
        # Each machine's .dvc/config.local: the remote (and for S3 the endpoint) apply to
        # every commit and experiment, and nothing goes into committed config.
        machine.run("dvc", "remote", "add", "--local", "--force", "--default", "shared", url)
        if kind == "s3":
            machine.run(
                "dvc",
                "remote",
                "modify",
                "--local",
                "shared",
                "endpointurl",
                request.getfixturevalue("s3_server"),
            )

    machine_a = Project(project.root, env, project.record_dir)
    use_remote(machine_a)
    machine_a.run("git", "init", "-q", "--bare", str(origin))
    machine_a.run("git", "push", "-q", str(origin), "main")
    machine_a.run("dvc", "push", "--all-commits", "--run-cache")
    machine_a.run("dvc", "exp", "push", "--all-commits", "--run-cache", str(origin))
    assert machine_a.run("git", "status", "--porcelain", ".dvc/config") == ""

    machine_b = Project(tmp_path / "b", env, project.record_dir)
    machine_a.run("git", "clone", "-q", "--branch", "main", str(origin), str(machine_b.root))
    use_remote(machine_b)
    machine_b.run("dvc", "pull", "--run-cache")
    assert machine_b.repro() == []
    assert "Data and pipelines are up to date" in machine_b.run("dvc", "status")
    committed = machine_a.run("git", "show", "HEAD:metrics/evaluate.json")
    assert json.loads((machine_b.root / "metrics/evaluate.json").read_text()) == json.loads(committed)

    if kind == "directory":
        return  # experiments travel the same way: one kind of remote shows it
    machine_b.run("dvc", "exp", "pull", "--all-commits", "origin")
    made = experiments(machine_a)
    assert set(made) >= set(sweep) and experiments(machine_b) == made
    machine_b.run("dvc", "exp", "apply", "baseline-3")
    assert machine_b.read_json("metrics/train_baseline/metrics.json")["step"] == 2
    assert "Data and pipelines are up to date" in machine_b.run("dvc", "status")
