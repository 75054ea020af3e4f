"""The export stage's library on a small CNN trained on real digits: every format written
and run in its own runtime agrees with Keras; a format that disagrees stops the export
with one line and leaves nothing behind."""

import contextlib

import numpy as np
import pytest

from stages.lib.core.artifacts import atomic_folder, load_arrays
from stages.lib.core.config import Export
from stages.lib.core.errors import ExportError
from stages.lib.core.paths import EXPORT_DIR
from stages.lib.serving import exporting
from stages.lib.serving.checks import check
from stages.lib.serving.exporting import export_model
from stages.lib.serving.formats import FORMATS, format_paths, runner
from tests import workspaces
from tests.workspaces import trained_workspace

pytestmark = pytest.mark.slow

SETTINGS = Export(
    models=["final", "cnn_final"],
    dynamic_range=True,
    tolerance=1e-4,
    min_dynamic_range_agreement=0.9,
    timing_runs=3,
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, dataset_folder):
    return trained_workspace(
        tmp_path_factory.mktemp("workspace"), workspaces.digits(dataset_folder, test_size=300)
    )


def export(workspace, settings=SETTINGS, where=EXPORT_DIR):
    with contextlib.chdir(workspace), atomic_folder(where) as folder:
        test = load_arrays("data/prepared/test.npz", "x", "y")
        return {name: export_model(name, folder, where, test, settings) for name in settings.models}


def test_every_format_in_its_own_runtime_agrees_with_keras(workspace):
    figures = export(workspace)
    assert [figures[name]["model"] for name in SETTINGS.models] == ["cnn_final", "cnn_final"]
    for name, figure in figures.items():
        assert figure["images"] == 300 and list(figure["formats"]) == ["keras", *FORMATS]
        keras = figure["formats"]["keras"]  # a copy of the trained model's file, shipped with the others
        assert keras["file"] == f"models/export/{name}.keras" and keras["agreement"] == 1.0
        for kind, row in figure["formats"].items():
            assert (workspace / row["file"]).exists() and row["bytes"] > 0, row
            assert row["latency_ms"] > 0 and row["images_per_second"] > 0
            if kind == "litert_dynamic_range":
                assert row["agreement"] >= 0.9 and row["bytes"] < 0.5 * figure["formats"]["litert"]["bytes"]
            else:
                assert row["agreement"] == 1.0 and row["max_probability_difference"] <= 1e-4, (kind, row)
                assert row["accuracy"] == keras["accuracy"]
    files = {path.relative_to(workspace).as_posix() for path in (workspace / EXPORT_DIR).rglob("*")}
    assert {
        "models/export/final.keras",
        "models/export/final/saved_model/saved_model.pb",
        "models/export/final.tflite",
        "models/export/final.dynamic_range.tflite",
        "models/export/final.onnx",
        "models/export/cnn_final.onnx",
    } <= files
    # loaded afresh from where they now are, as a user would
    images = load_arrays(workspace / "data/prepared/test.npz", "x")[0][:5]
    paths = format_paths(workspace / EXPORT_DIR, "final", dynamic_range=False)
    answers = [runner(kind, path)(images) for kind, path in paths.items()]
    for answer in answers[1:]:
        np.testing.assert_allclose(answer, answers[0], atol=1e-5)


def test_two_models_averaged_export_as_one_model_in_every_format(workspace):
    """evaluate's `finalists` (or a duel's average): one Keras model holding both, which
    every format converts and runs as any model, with the same answers."""
    settings = SETTINGS.model_copy(update={"models": ["finalists"], "dynamic_range": False})
    figure = export(workspace, settings)["finalists"]
    assert figure["model"] == "finalists" and list(figure["formats"]) == [
        "keras",
        "saved_model",
        "litert",
        "onnx",
    ]
    for row in figure["formats"].values():
        assert row["agreement"] == 1.0 and row["max_probability_difference"] <= 1e-4, row


def test_a_format_that_disagrees_stops_the_export_with_one_line_and_leaves_nothing(workspace, monkeypatch):
    def swapped(kind, path):  # an ONNX runtime that answers the next class's probability
        run = runner(kind, path)
        return (lambda images: np.roll(run(images), 1, axis=1)) if kind == "onnx" else run

    monkeypatch.setattr(exporting, "runner", swapped)
    with pytest.raises(ExportError) as error:
        export(workspace, where=EXPORT_DIR.parent / "failed")
    assert "\n" not in str(error.value)
    assert str(error.value).startswith("models/failed/final.onnx disagrees with cnn_final: ")
    assert "of the 300 test images get another class" in str(error.value)
    assert not any(path.name.startswith((".failed", "failed")) for path in (workspace / "models").iterdir())


def test_the_quantized_format_need_only_agree_on_its_share():
    row = {
        "file": "models/export/final.dynamic_range.tflite",
        "agreement": 0.95,
        "max_probability_difference": 0.3,
    }
    check("litert_dynamic_range", row, "cnn_final", 100, tolerance=1e-4, min_agreement=0.9)
    with pytest.raises(
        ExportError, match=r"only 95\.00% of the 100 test images, below export.min_dynamic_range"
    ):
        check("litert_dynamic_range", row, "cnn_final", 100, tolerance=1e-4, min_agreement=0.99)
    with pytest.raises(ExportError, match="5 of the 100 test images get another class"):
        check(
            "litert",
            {**row, "file": "models/export/final.tflite"},
            "cnn_final",
            100,
            tolerance=1e-4,
            min_agreement=0.9,
        )
