"""Classifying users' own pictures: preprocessing, errors, the command."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from stages.lib.core.errors import DataError
from stages.lib.data.pictures import Preparation, read_images, to_model_input
from tests import REPO, workspaces
from tests.workspaces import CLASSES, trained_workspace

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
    return trained_workspace(tmp_path_factory.mktemp("workspace"), digits)


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
    assert result.stderr == ""  # no TensorFlow start-up notices
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{tmp_path / 'batch.npy'}[{i}]" for i in range(3)]
    assert all(
        re.fullmatch(rf".*: ({'|'.join(CLASSES)}) \(probability [01]\.\d{{3}}\)", line) for line in lines
    ), lines
