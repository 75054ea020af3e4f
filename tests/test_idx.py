import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.lib.core.dataset import DatasetFiles
from stages.lib.core.errors import DataError
from stages.lib.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    load_dataset,
    load_images_and_labels,
    parse_images,
    parse_labels,
    read_bytes,
)
from tests.idx_files import MNIST_FILES, encode_images, encode_labels, write_mirror

IMAGES = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
LABELS = np.array([0, 9, 3], dtype=np.uint8)


def test_round_trip():
    np.testing.assert_array_equal(parse_images(encode_images(IMAGES), "x"), IMAGES)
    np.testing.assert_array_equal(parse_labels(encode_labels(LABELS), "y", 10), LABELS)


@pytest.mark.parametrize(
    "data, message",
    [
        (encode_images(IMAGES, magic=LABELS_MAGIC), "magic number 0x00000801, expected 0x00000803"),
        (encode_images(IMAGES)[:-1], "announces shape (3, 4, 5) (60 bytes of data) but the file holds 59"),
        (encode_images(IMAGES) + b"\0", "but the file holds 61"),
        (encode_images(IMAGES)[:10], "too short for an IDX header"),
        (encode_images(IMAGES[:0]), "holds no images"),
    ],
)
def test_bad_image_files(data, message):
    with pytest.raises(DataError) as error:
        parse_images(data, "images.idx")
    assert str(error.value).startswith("images.idx: ")
    assert message in str(error.value)


def test_labels_out_of_range_name_the_index():
    with pytest.raises(DataError, match=r"labels.idx: label 12 at index 1 is outside 0..9"):
        parse_labels(encode_labels(np.array([1, 12, 3])), "labels.idx", 10)
    with pytest.raises(DataError, match="magic number 0x00000803"):
        parse_labels(encode_labels(LABELS, magic=IMAGES_MAGIC), "labels.idx", 10)


def test_count_mismatch_names_both_files(tmp_path):
    (tmp_path / "i").write_bytes(encode_images(IMAGES))
    (tmp_path / "l").write_bytes(encode_labels(LABELS[:2]))
    with pytest.raises(DataError, match="holds 3 images but .* holds 2 labels"):
        load_images_and_labels(tmp_path / "i", tmp_path / "l", 10)


def test_gzip_and_plain_files_are_read(tmp_path):
    (tmp_path / "plain").write_bytes(b"\0\0\x08\x01")
    (tmp_path / "packed.gz").write_bytes(gzip.compress(b"\0\0\x08\x01"))
    assert read_bytes(tmp_path / "plain") == read_bytes(tmp_path / "packed.gz") == b"\0\0\x08\x01"
    packed = gzip.compress(bytes(range(256)) * 40)
    (tmp_path / "broken.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match="broken.gz is a damaged gzip file"):
        read_bytes(tmp_path / "broken.gz")
    with pytest.raises(DataError, match="cannot read .*missing"):
        read_bytes(tmp_path / "missing")


def test_load_dataset_scales_to_unit_float32(tmp_path):
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    files = write_mirror(tmp_path, (images, np.array([7])), (images, np.array([2])))
    data = load_dataset(tmp_path, DatasetFiles.model_validate(files), 10)
    x, y = data["train"]
    assert x.dtype == np.float32 and y.tolist() == [7]
    np.testing.assert_allclose(x[0], [[0.0, 1.0], [0.2, 0.4]])


def test_transposed_datasets_are_read_upright(tmp_path):
    """EMNIST's files hold each image column by column."""
    upright = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    files = write_mirror(
        tmp_path, (upright.transpose(0, 2, 1), np.array([1])), (upright.transpose(0, 2, 1), np.array([0]))
    )
    x, _ = load_dataset(tmp_path, DatasetFiles.model_validate(files), 10, transpose=True)["test"]
    np.testing.assert_allclose(x * 255, upright)


def test_test_images_of_another_size_name_the_file(tmp_path):
    small, large = np.zeros((1, 28, 28), np.uint8), np.zeros((1, 32, 32), np.uint8)
    files = write_mirror(tmp_path, (small, np.array([7])), (large, np.array([2])))
    with pytest.raises(
        DataError,
        match=r"t10k-images-idx3-ubyte.gz: images of \(32, 32\) pixels, but the "
        r"training images in .*train-images-idx3-ubyte.gz are \(28, 28\)",
    ):
        load_dataset(tmp_path, DatasetFiles.model_validate(files), 10)


def test_real_mnist_files(dataset_folder):
    images, labels = load_images_and_labels(
        dataset_folder / MNIST_FILES["test_images"], dataset_folder / MNIST_FILES["test_labels"], 10
    )
    assert images.shape == (10000, 28, 28)
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_raise_data_error(data):
    """Whatever the bytes, a valid array of what the header announces, or DataError."""
    for parse, ndim in ((lambda d: parse_images(d, "f"), 3), (lambda d: parse_labels(d, "f", 10), 1)):
        try:
            parsed = parse(data)
        except DataError:
            continue
        assert parsed.dtype == np.uint8 and parsed.ndim == ndim and parsed.size == len(data) - 4 - 4 * ndim


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=3, max_size=3), st.binary(max_size=64))
def test_arbitrary_headers_parse_or_raise_data_error(shape, body):
    header = b"".join(n.to_bytes(4, "big") for n in (IMAGES_MAGIC, *shape))
    try:
        images = parse_images(header + body, "f")
    except DataError:
        return
    assert images.shape == tuple(shape)
