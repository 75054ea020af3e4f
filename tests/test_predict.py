"""Classifying users' own pictures: preprocessing, errors, the command, over files,
folders, glob patterns and lists, in the exported model's runtime or in Keras."""

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from stages.lib.core.errors import DataError
from stages.lib.core.model_files import load_model
from stages.lib.data.pictures import Preparation, read_images, to_model_input
from stages.lib.serving.many_files import expand
from tests import REPO, workspaces
from tests.workspaces import CLASSES, exported_workspace

MNIST = (28, 28)
DIGITS = Preparation(MNIST, centre="mass")  # how predict prepares pictures for MNIST


@pytest.fixture(scope="module")
def digits(dataset_folder):
    """3,000 training and 40 test digits as the pipeline feeds them: pixels in [0, 1]."""
    return workspaces.digits(dataset_folder)


def as_users_photo(digit: np.ndarray, index: int) -> np.ndarray:
    """A test digit as people photograph it: dark ink on light paper, enlarged,
    off-centre on a bigger sheet; 0-255 grayscale."""
    scale = 2 + index % 4
    ink = np.kron(digit, np.ones((scale, scale), np.float32))
    sheet = np.zeros((ink.shape[0] + 40, ink.shape[1] + 70), np.float32)
    top, left = 5 + 3 * (index % 7), 60 - 7 * (index % 9)
    sheet[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    return np.round(255 * (1.0 - sheet)).astype(np.uint8)


def write_png(path, pixels: np.ndarray):
    path.write_bytes(tf.io.encode_png(pixels[..., None]).numpy())
    return path


def test_a_photographed_digit_becomes_what_the_digit_itself_becomes(digits):
    """Polarity, size and place on the sheet make no difference."""
    similar = []
    for index, digit in enumerate(digits[1][0][:20]):
        restored = to_model_input(as_users_photo(digit, index) / 255.0, MNIST)
        assert restored.shape == MNIST and restored.dtype == np.float32
        assert 0.0 <= restored.min() and restored.max() <= 1.0
        similar.append(np.corrcoef(restored.ravel(), to_model_input(digit, MNIST).ravel())[0, 1])
    assert np.median(similar) > 0.97 and min(similar) > 0.85, similar


@pytest.mark.parametrize("shape, box", [(MNIST, 20), ((16, 12), (11, 9))])
def test_centre_of_mass_is_centred_and_the_picture_fits_mnists_box(shape, box):
    """MNIST's 20 of 28 pixels, or the same share of another model's input size."""
    blob = np.zeros((90, 50), np.float32)
    blob[10:70, 5:25] = 1.0  # a tall bar, far from the centre
    image = to_model_input(blob, shape)
    assert image.shape == shape
    rows, columns = np.nonzero(image > 0.5)
    assert rows.max() - rows.min() + 1 <= np.max(box) and columns.max() - columns.min() + 1 <= np.min(box)
    weights = image / image.sum()
    assert abs((weights.sum(axis=1) * np.arange(shape[0])).sum() - (shape[0] - 1) / 2) <= 0.5
    assert abs((weights.sum(axis=0) * np.arange(shape[1])).sum() - (shape[1] - 1) / 2) <= 0.5


@pytest.mark.parametrize(
    "name, contents, message",
    [
        ("empty.png", b"", "empty.png is empty"),
        ("notes.png", b"not a picture", "notes.png is not a readable PNG or JPEG image"),
        ("notes.txt", b"7", "notes.txt: expected a .png, .jpg, .jpeg or .npy file"),
    ],
)
def test_unusable_files_are_clear_errors(tmp_path, name, contents, message):
    (tmp_path / name).write_bytes(contents)
    with pytest.raises(DataError, match=message):
        read_images(tmp_path / name, DIGITS)


def test_missing_blank_and_bad_arrays_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="cannot read .*missing.png: No such file or directory"):
        read_images(tmp_path / "missing.png", DIGITS)
    with pytest.raises(DataError, match="blank.png: nothing found: the image is blank"):
        read_images(write_png(tmp_path / "blank.png", np.full((40, 40), 255, np.uint8)), DIGITS)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="objects.npy is not a plain numpy array file"):
        read_images(tmp_path / "objects.npy", DIGITS)
    np.save(tmp_path / "wide.npy", np.zeros((2, 28, 30)))
    with pytest.raises(DataError, match=r"shape \(2, 28, 30\); expected \(28, 28\) or \(n, 28, 28\)"):
        read_images(tmp_path / "wide.npy", DIGITS)


def test_npy_batches_keep_their_pixels(tmp_path):
    images = np.random.default_rng(0).random((3, 16, 12), dtype=np.float32)
    np.save(tmp_path / "batch.npy", images)
    np.testing.assert_allclose(read_images(tmp_path / "batch.npy", Preparation((16, 12))), images)
    np.save(tmp_path / "bytes.npy", np.round(images[0] * 255).astype(np.uint8))
    np.testing.assert_allclose(
        read_images(tmp_path / "bytes.npy", Preparation((16, 12))), images[:1], atol=0.5 / 255
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, digits):
    return exported_workspace(tmp_path_factory.mktemp("workspace"), digits)


def predict(workspace, *args):
    return subprocess.run(
        [sys.executable, "-m", "stages.predict", *map(str, args)],
        cwd=workspace,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_predict_reads_photos_either_polarity_and_reports_bad_files(workspace, digits, tmp_path):
    test_images, test_labels = digits[1]
    photos = []
    for index, digit in enumerate(test_images[:10]):
        photo = as_users_photo(digit, index)
        photos.append(write_png(tmp_path / f"digit{index}.png", 255 - photo if index % 2 else photo))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG nothing more")
    result = predict(workspace, "--json", *photos[:5], tmp_path / "broken.png", *photos[5:])
    assert result.returncode == 1
    assert "broken.png is not a readable PNG or JPEG image" in result.stderr
    answers = json.loads(result.stdout)
    assert answers["model"] == "cnn_final"  # evaluate's choice
    said = [a["class"] for a in answers["predictions"] if "error" not in a]
    assert len(said) == 10
    assert sum(np.array(said) == np.array(CLASSES)[test_labels[:10]]) >= 8, (said, test_labels[:10])
    assert all(0.1 <= a["probability"] <= 1.0 for a in answers["predictions"] if "error" not in a)


@pytest.mark.slow
def test_predict_prints_one_line_per_image(workspace, digits, tmp_path):
    np.save(tmp_path / "batch.npy", digits[1][0][:3])
    result = predict(workspace, "--model", "mlp_final", tmp_path / "batch.npy")
    assert result.returncode == 0, result.stderr
    # one notice (it has no export), and no TensorFlow start-up notices
    assert result.stderr == (
        "mlp_final runs in Keras, slower than its export would: models/export holds no export of it "
        "(export.models: final); add it to export.models, or name final, and run `dvc repro export`\n"
    )
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{tmp_path / 'batch.npy'}[{i}]" for i in range(3)]
    assert all(
        re.fullmatch(rf".*: ({'|'.join(CLASSES)}) \(probability [01]\.\d{{3}}\)", line) for line in lines
    ), lines


def test_sources_name_files_folders_patterns_and_lists(tmp_path):
    for name in ("a/1.png", "a/b/2.PNG", "a/b/3.npy", "a/notes.txt", "c/4.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "list.txt").write_text(f"# scans\n{tmp_path / 'c/4.jpg'}\n\n{tmp_path / 'a/1.png'}\n")
    (tmp_path / "empty").mkdir()
    found = list(
        expand(
            [
                str(tmp_path / "a"),
                str(tmp_path / "c" / "*.jpg"),
                f"@{tmp_path / 'list.txt'}",
                str(tmp_path / "**" / "2.png"),
                str(tmp_path / "a" / "notes.txt"),
                str(tmp_path / "empty"),
                f"@{tmp_path / 'missing.txt'}",
            ]
        )
    )
    paths = [str(p.relative_to(tmp_path)) if isinstance(p, Path) else str(p) for p in found]
    assert paths == [
        "a/1.png",
        "a/b/2.PNG",
        "a/b/3.npy",
        "c/4.jpg",
        "c/4.jpg",
        "a/1.png",
        f"no file matches {tmp_path / '**' / '2.png'}",  # patterns match case as the file system does
        "a/notes.txt",  # predict says what is wrong with it
        f"{tmp_path / 'empty'} holds no .png, .jpg, .jpeg, .npy file",
        f"cannot read the list {tmp_path / 'missing.txt'}: No such file or directory",
    ]


@pytest.fixture(scope="module")
def scans(tmp_path_factory, digits):
    """25 test digits as users' photos in a folder (two in a subfolder), one broken file among them."""
    folder = tmp_path_factory.mktemp("scans")
    (folder / "more").mkdir()
    for index, digit in enumerate(digits[1][0][:25]):
        write_png(folder / ("more" if index >= 23 else "") / f"{index:02d}.png", as_users_photo(digit, index))
    (folder / "07b.png").write_bytes(b"\x89PNG broken")
    return folder


@pytest.mark.slow
def test_a_folder_streams_csv_in_the_exported_runtime_as_keras_answers_and_skips_a_broken_file(
    workspace, scans
):
    result = predict(workspace, "--format", "csv", "--batch", "4", scans)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {scans / '07b.png'} is not a readable PNG or JPEG image")
    assert len(result.stderr.splitlines()) == 1
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    files = sorted(str(p) for p in scans.rglob("*.png") if p.name != "07b.png")
    assert [row["file"] for row in rows] == files and {row["index"] for row in rows} == {""}
    assert list(rows[0]) == ["file", "index", "class", "probability", *(f"p_{name}" for name in CLASSES)]
    keras = load_model(workspace / "models" / "cnn_final.keras")
    expected = keras.predict(np.concatenate([read_images(file, DIGITS) for file in files]), verbose=0)
    probabilities = np.array([[float(row[f"p_{name}"]) for name in CLASSES] for row in rows])
    assert [row["class"] for row in rows] == [CLASSES[k] for k in expected.argmax(axis=1)]
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)  # export.tolerance


@pytest.mark.slow
def test_json_lines_from_a_list_and_a_pattern_and_a_missing_file_in_keras(workspace, scans, tmp_path):
    (tmp_path / "list.txt").write_text(f"{scans / '00.png'}\n{scans / 'missing.png'}\n")
    result = predict(
        workspace,
        "--format",
        "jsonl",
        "--runtime",
        "keras",
        f"@{tmp_path / 'list.txt'}",
        scans / "more" / "*.png",
    )
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(scans / name) for name in ("00.png", "missing.png")] + [
        str(scans / "more" / f"{i}.png") for i in (23, 24)
    ]
    assert lines[1] == {
        "file": str(scans / "missing.png"),
        "error": f"cannot read {scans / 'missing.png'}: No such file or directory",
    }
    assert all(
        set(line) == {"file", "class", "probability", "probabilities"} for line in lines[:1] + lines[2:]
    )
    assert result.stderr == f"error: cannot read {scans / 'missing.png'}: No such file or directory\n"


@pytest.mark.slow
def test_an_export_older_than_the_model_is_not_used_and_a_runtime_without_one_is_an_error(
    workspace, tmp_path
):
    np.save(tmp_path / "digit.npy", np.zeros((28, 28), np.float32))
    description = workspace / "models" / "export" / "final" / "model.json"
    current = description.read_text()
    try:
        description.write_text(
            current.replace(
                '"sources": {"models/cnn_final.keras": "', '"sources": {"models/cnn_final.keras": "0'
            )
        )
        result = predict(workspace, tmp_path / "digit.npy")
        assert result.returncode == 0, result.stderr
        assert result.stderr.startswith(
            "cnn_final runs in Keras, slower than its export would: models/export/final was made from other "
            ".keras files than the run's (retrained since): run `dvc repro export`"
        )
    finally:
        description.write_text(current)
    result = predict(workspace, "--model", "mlp_final", "--runtime", "onnx", tmp_path / "digit.npy")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(
        "error: mlp_final cannot run in onnx: models/export holds no export of it"
    )
