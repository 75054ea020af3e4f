"""The pipeline on users' own pictures: a folder dataset of PNG and JPEG files of two
sizes and three classes, end to end, once in grayscale from a .tar.gz archive (train/
and test/ folders, small settings) and once in RGB pictures of 40x40 from the
project's own folder, tracked with `dvc add` (one tree, split by
dataset.test_fraction), with every default but the dataset section; the report and
`stages.predict` name its classes, and an added picture reruns the pipeline from
preprocess."""

import copy
import hashlib
import json
import subprocess
import sys
import tarfile

import pytest
import yaml

from tests import REPO
from tests.picture_folders import SHAPES, write_dataset, write_pictures
from tests.projects import ALL_STAGES, SMALL_SETTINGS, reproduced_project

pytestmark = [pytest.mark.slow, pytest.mark.project]

SETTINGS = copy.deepcopy(SMALL_SETTINGS)
SETTINGS["split"] = {"validation_size": 0.2, "holdout_size": 0.15, "method": "stratified"}


@pytest.fixture(scope="module")
def archive_project(tmp_path_factory):
    """Grayscale pictures from an archive: 150 training and 30 test pictures per class."""
    folder = write_dataset(tmp_path_factory.mktemp("pictures") / "shapes", train=150, test=30)
    archive = folder.parent / "shapes.tar.gz"
    with tarfile.open(archive, "w:gz") as packed:
        packed.add(folder, arcname="shapes")
    dataset = {
        "name": "Shapes",
        "format": "folder",
        "path": "data/raw",
        "archive": {"source": str(archive), "sha256": hashlib.sha256(archive.read_bytes()).hexdigest()},
    }
    return reproduced_project(tmp_path_factory, None, SETTINGS, dataset)


COLOUR_SIZES = ((40, 40), (60, 48))


@pytest.fixture(scope="module")
def folder_project(tmp_path_factory):
    """RGB pictures in the project's data/images, one tree of 180 pictures per class,
    three in four of 40x40; params.yaml's defaults but for the dataset section and the
    release floor."""

    def add_pictures(project):
        write_pictures(project.root / "data" / "images", 180, seed=0, color=True, sizes=COLOUR_SIZES)
        project.run("dvc", "add", "-q", "data/images")

    dataset = {
        "name": "Coloured shapes",
        "format": "folder",
        "path": "data/images",
        "classes": SHAPES,
        "test_fraction": 0.2,
        "color": "rgb",
    }
    return reproduced_project(
        tmp_path_factory, None, {"release": SMALL_SETTINGS["release"]}, dataset, before_commit=add_pictures
    )


def predict(project, *files):
    return subprocess.run(
        [sys.executable, "-m", "stages.predict", "--json", *map(str, files)],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
    )


def test_pictures_from_an_archive_run_end_to_end_under_their_folders_names(archive_project, tmp_path):
    project = archive_project
    assert sorted(project.first_run) == sorted(ALL_STAGES)
    assert project.read_json("data/prepared/dataset.json") == {
        "format": "folder",
        "classes": sorted(SHAPES),
        "image_size": [24, 24],
        "size_reason": "the most common size, that of 408 of 540 pictures",
        "color": "grayscale",
        "centre": "none",
        "images": {"train": 450, "test": 90},
    }
    accuracy = project.read_json("metrics/evaluate.json")
    assert accuracy["baseline"]["accuracy"] > 0.6 and accuracy["final"]["accuracy"] > 0.6, accuracy
    report = (project.root / "metrics/evaluate/report.md").read_text()
    assert "Shapes's 24x24 grayscale images into 3 classes (bar, cross, ring)" in report
    assert "The pictures were made 24x24 (the most common size, that of 408 of 540 pictures)" in report
    assert "90 validation images, 68 holdout images and the rest (292)" in report
    picture = next((project.root / "data/raw/shapes/test/ring").glob("*.jpg"))
    result = predict(project, picture)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert json.loads(result.stdout)["predictions"][0]["class"] in SHAPES


def test_rgb_pictures_in_the_projects_folder_run_and_an_added_one_reruns_the_pipeline(folder_project):
    project = folder_project
    assert sorted(project.first_run) == sorted(ALL_STAGES)
    dataset = project.read_json("data/prepared/dataset.json")
    assert dataset["classes"] == SHAPES and dataset["color"] == "rgb"
    assert dataset["images"] == {"train": 432, "test": 108} and dataset["image_size"] == [40, 40]
    defaults = yaml.safe_load((REPO / "params.yaml").read_text())
    assert {**project.params(), "dataset": None, "release": None} == {
        **defaults,
        "dataset": None,
        "release": None,
    }
    report = (project.root / "metrics/evaluate/report.md").read_text()
    assert "Coloured shapes's 40x40 rgb images into 3 classes (ring, bar, cross)" in report
    for space, largest in (
        ("mlp", "depth 3, width 1600"),
        ("cnn", "filters_1 48, filters_2 96, dense_units 384"),
    ):
        budget = project.read_json("metrics/budget.json")[space]
        assert budget["images"] == 432 - 43 and budget["lowered"] == {}  # all but the holdout images
        assert f"**Budget.** The largest model ({largest}) takes about " in report
    accuracy = project.read_json("metrics/evaluate.json")
    gallery = project.root / "metrics/evaluate/figures/misclassified.png"
    assert gallery.exists() == (accuracy["final"]["accuracy"] < 1), accuracy  # none without mistakes
    assert accuracy["final"]["accuracy"] > 0.6, accuracy
    result = predict(project, project.root / "data/images/cross/cross0001.jpg")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert json.loads(result.stdout)["predictions"][0]["class"] in SHAPES

    write_pictures(project.root / "extra", 1, seed=9, color=True)
    (project.root / "extra/bar/bar0000.png").rename(project.root / "data/images/bar/new.png")
    project.run("dvc", "add", "-q", "data/images")
    status = project.run("dvc", "status")
    assert "preprocess:" in status and "modified:           data/images" in status, status
    project.restore()
