"""The blessing before export ships `final` (stages.lib.core.blessing), and how released
versions are named (stages.lib.serving.releases). tests/test_pipeline.py registers,
refuses, forces and serves a release with gto and dvc for real."""

import subprocess

import numpy as np
import pytest

from stages.lib.core.blessing import NO_RELEASE, bless, compare
from stages.lib.core.decisions import Candidate
from stages.lib.core.errors import DataError
from stages.lib.serving.classifier import model_name
from stages.lib.serving.releases import SPEC, find, released


def answers(right: int, images: int = 1000) -> np.ndarray:
    """`right` of `images` right, the wrong ones last."""
    return np.arange(images) < right


def test_with_no_release_the_floor_alone_decides():
    blessing = bless("cnn_final", 950, 1000, NO_RELEASE, min_accuracy=0.9, force=False)
    assert blessing["blessed"] and blessing["ships"] and not blessing["forced"]
    assert blessing["comparison"] == NO_RELEASE and blessing["released"] is None
    assert blessing["outcome"] == (
        "cnn_final is blessed: 950 of 1,000 holdout images right (0.9500), at least "
        "release.min_accuracy 0.9; no released model to compare with"
    )


def test_under_the_floor_it_is_refused_with_the_count_and_how_to_ship_it_anyway():
    blessing = bless("cnn_final", 890, 1000, NO_RELEASE, min_accuracy=0.9, force=False)
    assert not blessing["blessed"] and not blessing["ships"] and not blessing["floor"]["passed"]
    assert blessing["outcome"] == (
        "cnn_final is not blessed: 890 of 1,000 holdout images right (0.8900), under "
        "release.min_accuracy 0.9. Improve the model, or set release.force: true to ship it all the same"
    )


def test_a_released_model_better_beyond_the_noise_refuses_it_and_force_ships_it_recorded():
    new, old = (
        Candidate("cnn_final", answers(930), 0.0),
        Candidate("classifier@v1.0.0 (prod)", answers(960), 0.0),
    )
    comparison = compare(new, old, 0.05)
    refused, forced = (
        bless("cnn_final", 930, 1000, comparison, min_accuracy=0.9, force=force) for force in (False, True)
    )
    assert not refused["blessed"] and refused["comparison"]["kept"] == old.name
    assert refused["released"] == old.name
    assert (
        "the released classifier@v1.0.0 (prod) is better beyond the noise (30 images only it gets "
        "right, 0 only cnn_final does, McNemar's p = 1.9e-09)" in refused["outcome"]
    )
    assert forced["forced"] and forced["ships"] and not forced["blessed"]
    assert forced["outcome"].endswith(". Shipped all the same: release.force is true")


def test_a_tie_with_the_released_model_blesses_the_new_one_even_a_little_worse():
    # 12 images only the new one gets right, 18 only the released one: p = 0.36
    old = Candidate("classifier@v1.0.0", answers(970), 0.0)
    new = Candidate("cnn_final", old.right.copy(), 0.0)
    new.right[:18], new.right[970:982] = False, True
    blessing = bless("cnn_final", 964, 1000, compare(new, old, 0.05), min_accuracy=0.9, force=True)
    only = {name: c["only_right"] for name, c in blessing["comparison"]["candidates"].items()}
    assert only == {"cnn_final": 12, "classifier@v1.0.0": 18} and blessing["comparison"]["p_value"] > 0.05
    assert blessing["blessed"] and not blessing["forced"]  # force changes nothing for a blessed model
    assert (
        "the released classifier@v1.0.0 is not better beyond the noise (18 images only it gets right"
        in (blessing["outcome"])
    )


def test_a_released_model_of_other_images_cannot_be_compared_and_only_force_ships():
    why = (
        "the released classifier@v1.0.0 takes images of (28, 28) into 10 classes, cnn_final (32, 32, 3) "
        "into 43: they cannot be compared"
    )
    refused, forced = (
        bless("cnn_final", 990, 1000, why, min_accuracy=0.9, force=force) for force in (False, True)
    )
    assert not refused["ships"] and refused["comparison"] == why
    assert refused["outcome"].startswith(
        f"cnn_final is not blessed: {why}. Improve the model, or set release.force"
    )
    assert forced["ships"] and forced["forced"] and not forced["blessed"]


@pytest.mark.parametrize("spec", ["classifier@v1.0.0", "classifier#prod", "my-model@v12.3.4"])
def test_released_versions_are_named_as_gto_names_them(spec):
    assert SPEC.match(spec) and model_name(spec) == spec


@pytest.mark.parametrize("spec", ["classifier@1.0.0", "classifier", "Classifier@v1.0.0", "classifier@v1.0"])
def test_other_names_are_refused_with_what_is_accepted(spec):
    with pytest.raises(Exception, match="nor a released version such as classifier@v1.0.0"):
        model_name(spec)


def test_in_a_repository_without_tags_there_is_no_release_and_a_named_one_is_not_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert released("prod") is None  # not a git repository
    subprocess.run(["git", "init", "-q"], check=True)
    assert released("prod") is None
    with pytest.raises(DataError, match=r"^classifier@v1.0.0: no such release"):
        find("classifier@v1.0.0")
