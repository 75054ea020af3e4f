"""Folder datasets: listing class folders, the bad inputs each get one clear line,
choosing the image size, decoding into arrays, unpacking archives safely, and the
split sizes as counts or fractions."""

import io
import re
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest
import yaml
from PIL import Image

from stages.lib.core.config import Split
from stages.lib.core.dataset import Dataset
from stages.lib.core.errors import DataError, ParamsError
from stages.lib.core.params import checked
from stages.lib.data.archives import unpack
from stages.lib.data.decoding import choose_size, load_pictures
from stages.lib.data.folders import list_pictures
from stages.lib.data.pictures import Preparation, read_images
from tests import REPO
from tests.picture_folders import SHAPES, SIZES, write_dataset, write_pictures


@pytest.fixture
def two_parts(tmp_path):
    return write_dataset(tmp_path / "pictures", train=8, test=4)


def test_classes_come_from_the_folder_names_in_sorted_order_or_as_listed(two_parts):
    listing = list_pictures(two_parts, None, None, seed=0)
    assert listing.classes == sorted(SHAPES)
    assert [len(listing.parts[part]) for part in ("train", "test")] == [24, 12]
    assert {(path.parent.name, label) for path, label in listing.parts["train"]} == {
        ("bar", 0),
        ("cross", 1),
        ("ring", 2),
    }
    labels = [label for _, label in listing.parts["train"]]
    assert labels != sorted(labels)  # shuffled, seeded: split's `last` takes a random sample
    listed = list_pictures(two_parts, SHAPES, None, seed=0)
    assert listed.classes == SHAPES
    assert {label for path, label in listed.parts["test"] if path.parent.name == "cross"} == {2}


def test_an_archives_wrapping_folder_and_hidden_files_are_skipped(tmp_path):
    write_dataset(tmp_path / "wrapper" / "shapes", train=2, test=1)
    (tmp_path / "wrapper" / ".DS_Store").write_text("x")
    (tmp_path / "wrapper" / "shapes" / "train" / "ring" / ".hidden.txt").write_text("x")
    assert list_pictures(tmp_path / "wrapper", None, None, seed=0).classes == sorted(SHAPES)


def test_one_tree_is_split_seeded_and_stratified_by_test_fraction(tmp_path):
    write_pictures(tmp_path / "tree", 10, seed=0)
    with pytest.raises(ParamsError, match="no train/ and test/ folders: set dataset.test_fraction"):
        list_pictures(tmp_path / "tree", None, None, seed=0)
    listing = list_pictures(tmp_path / "tree", None, 0.3, seed=0)
    assert [len(listing.parts[part]) for part in ("train", "test")] == [21, 9]
    assert np.bincount([label for _, label in listing.parts["test"]]).tolist() == [3, 3, 3]
    assert listing == list_pictures(tmp_path / "tree", None, 0.3, seed=0)
    assert listing != list_pictures(tmp_path / "tree", None, 0.3, seed=1)


def test_test_fraction_with_train_and_test_folders_is_refused(two_parts):
    with pytest.raises(ParamsError, match="has train/ and test/: remove it"):
        list_pictures(two_parts, None, 0.2, seed=0)


def test_listed_classes_must_match_the_folders(two_parts):
    with pytest.raises(ParamsError) as error:
        list_pictures(two_parts, ["ring", "bar", "star"], None, seed=0)
    assert "dataset.classes does not match the class folders in" in str(error.value)
    assert "no folder for star; not listed: cross" in str(error.value)


def corrupt(two_parts, how):
    ring = two_parts / "train" / "ring"
    if how == "empty class":
        (two_parts / "train" / "star").mkdir()
        return "train/star holds no pictures: add some, or remove the folder"
    if how == "test only":
        write_pictures(two_parts / "test", 1, seed=5)
        (two_parts / "test" / "ring").rename(two_parts / "test" / "star")
        return "test/star: class 'star' has no training folder"
    if how == "not a picture":
        (ring / "notes.txt").write_text("x")
        return "ring/notes.txt is not a .png, .jpg or .jpeg file: a class folder holds pictures only"
    if how == "stray file":
        (two_parts / "train" / "readme.md").write_text("x")
        return "train/readme.md is a file, but"
    if how == "unreadable":
        (ring / "fake.png").write_text("not a picture")
        return "ring/fake.png is not a readable PNG or JPEG image: replace it, or remove it"
    if how == "truncated":
        data = (ring / "ring0000.png").read_bytes()
        (ring / "ring0000.png").write_bytes(data[: len(data) // 2])
        return "ring/ring0000.png cannot be decoded"
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how", ["empty class", "test only", "not a picture", "stray file", "unreadable", "truncated"]
)
def test_each_bad_input_is_one_line_naming_the_file(two_parts, how):
    expected = corrupt(two_parts, how)
    with pytest.raises((DataError, ParamsError)) as error:
        load_pictures(list_pictures(two_parts, None, None, seed=0), "auto", "grayscale", "none")
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_keep_refuses_mixed_sizes_naming_a_picture(two_parts):
    listing = list_pictures(two_parts, None, None, seed=0)
    with pytest.raises(
        DataError, match=r"/(bar|cross|ring)000[37].jpg is 36x28 pixels, but 27 of 36 pictures are 24x24"
    ):
        load_pictures(listing, "keep", "grayscale", "none")


def test_the_image_size_is_the_most_common_one_or_28x28_where_sizes_vary():
    where = {(24, 24): "a", (36, 28): "b", (10, 10): "c"}
    assert choose_size([(24, 24)] * 3 + [(36, 28)], "auto", where)[0] == (24, 24)
    assert choose_size([(24, 24), (36, 28), (10, 10)], "auto", where) == (
        (28, 28),
        "28x28, as sizes vary: 3 sizes, the most common that of 1 of 3 pictures",
    )
    assert choose_size([(24, 24), (36, 28)], [16, 20], where)[0] == (16, 20)
    assert choose_size([(36, 28)] * 2, "keep", where) == ((36, 28), "every picture's size")


def test_auto_makes_large_photos_smaller_with_their_aspect_ratio_kept():
    where = {(480, 640): "a", (640, 480): "b", (64, 48): "c", (65, 65): "d"}
    assert choose_size([(480, 640)] * 3 + [(640, 480)], "auto", where) == (
        (48, 64),
        "most pictures are 480x640, 3 of 4 pictures, made smaller to train in the budget: image_size "
        "auto keeps at most 64 pixels a side; set dataset.image_size to change it",
    )
    assert choose_size([(640, 480)], "auto", where)[0] == (64, 48)
    assert choose_size([(65, 65)], "auto", where)[0] == (64, 64)
    assert choose_size([(64, 48)], "auto", where) == ((64, 48), "every picture's size")  # at the limit
    assert choose_size([(480, 640)], "keep", where)[0] == (480, 640)  # keep and sizes keep theirs
    assert choose_size([(480, 640)], [120, 160], where)[0] == (120, 160)


def test_large_photos_are_decoded_at_the_smaller_size(tmp_path):
    """Photos of 480x640, prepared at 48x64: 100 times fewer pixels than kept."""
    gradient = np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None].repeat(480, 0).repeat(3, 2)
    for part in ("train", "test"):
        for name in ("cat", "dog"):
            (tmp_path / part / name).mkdir(parents=True)
            Image.fromarray(gradient).save(tmp_path / part / name / "photo.jpg")
    parts, sizing = load_pictures(list_pictures(tmp_path, None, None, seed=0), "auto", "rgb", "none")
    assert parts["train"][0].shape == (2, 48, 64, 3) and sizing["image_size"] == [48, 64]
    row = parts["train"][0][0, 24, :, 0]
    assert row[0] < 0.05 and row[-1] > 0.95 and np.all(np.diff(row) >= -0.02)  # the whole width, shrunk


@pytest.mark.parametrize("color, shape", [("grayscale", (24, 24)), ("rgb", (24, 24, 3))])
def test_pictures_are_decoded_to_one_size_with_their_aspect_kept(tmp_path, color, shape):
    write_dataset(tmp_path, train=4, test=4, color=color == "rgb")
    parts, sizing = load_pictures(list_pictures(tmp_path, None, None, seed=0), "auto", color, "none")
    x, y = parts["train"]
    assert x.shape == (12, *shape) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert sorted(y.tolist()) == [0] * 4 + [1] * 4 + [2] * 4
    assert sizing == {
        "image_size": [24, 24],
        "size_reason": "the most common size, that of 18 of 24 pictures",
    }
    tall = parts["test"][0][3]  # bar0003.jpg is 36x28: 24 rows by 19 columns, black at the sides
    assert tall[:, :2].max() == 0 and tall[:, -2:].max() == 0 and tall[:, 3:-3].max() > 0.5


@pytest.mark.parametrize("color, centre", [("rgb", "none"), ("grayscale", "mass")])
def test_predict_prepares_a_picture_as_preprocess_prepared_it(tmp_path, color, centre):
    """read_images (stages.predict's input) makes of a dataset's own picture exactly the
    image preprocess made of it."""
    write_dataset(tmp_path, train=4, test=4, color=color == "rgb")
    listing = list_pictures(tmp_path, None, None, seed=0)
    parts, sizing = load_pictures(listing, "auto", color, centre)
    preparation = Preparation(tuple(sizing["image_size"]), color, centre)
    for index in (0, 3):  # a 24x24 and a 36x28 picture (bar0000.png, bar0003.jpg)
        picture = listing.parts["test"][index][0]
        np.testing.assert_array_equal(read_images(picture, preparation)[0], parts["test"][0][index])
    assert parts["test"][0].shape[1:] == preparation.shape


def zip_with(name: str) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("shapes/train/ring/a.png", b"x")
        archive.writestr(name, b"x")
    return data.getvalue()


def tar_with(member: tarfile.TarInfo) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as archive:
        archive.addfile(tarfile.TarInfo("shapes/train/ring/a.png"), io.BytesIO(b""))
        archive.addfile(member, io.BytesIO(b"x" * member.size))
    return data.getvalue()


def link(name: str, target: str) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = tarfile.SYMTYPE, target
    return member


def sized(name: str) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.size = 1
    return member


@pytest.mark.parametrize(
    "filename, contents, message",
    [
        ("slip.zip", zip_with("../../evil.png"), "member '../../evil.png' climbs out with '..'"),
        ("abs.zip", zip_with("/tmp/evil.png"), "member '/tmp/evil.png' is an absolute path"),
        ("slip.tar.gz", tar_with(sized("shapes/../../evil.png")), "climbs out with '..'"),
        ("abs.tgz", tar_with(sized("/etc/evil")), "member '/etc/evil' is an absolute path"),
        ("link.tar.gz", tar_with(link("shapes/x.png", "/etc/passwd")), "is a link or a device"),
        ("bad.zip", b"PK not really", "is not a readable zip archive"),
    ],
)
def test_an_archive_member_outside_the_folder_is_refused_and_nothing_is_unpacked(
    tmp_path, filename, contents, message
):
    (tmp_path / filename).write_bytes(contents)
    with pytest.raises(DataError, match=message):
        unpack(tmp_path / filename, tmp_path / "raw")
    assert not (tmp_path / "raw").exists() and not (tmp_path.parent / "evil.png").exists()


def test_a_good_archive_unpacks(tmp_path):
    (tmp_path / "good.tar.gz").write_bytes(tar_with(sized("shapes/test/ring/b.png")))
    unpack(tmp_path / "good.tar.gz", tmp_path / "raw")
    assert sorted(p.name for p in (tmp_path / "raw").rglob("*.png")) == ["a.png", "b.png"]


def test_split_sizes_are_counts_or_fractions_and_errors_name_the_key():
    split = checked(Split, {"validation_size": 0.16667, "holdout_size": 0.1, "method": "last"}, "split")
    assert split.sizes(60000) == {"validation": 10000, "holdout": 6000, "search": 44000}
    assert split.sizes(8000) == {"validation": 1333, "holdout": 800, "search": 5867}
    counts = checked(Split, {"validation_size": 10000, "holdout_size": 6000, "method": "last"}, "split")
    with pytest.raises(ParamsError, match="split.validation_size .* leave none of the dataset's 8,000"):
        counts.sizes(8000)
    with pytest.raises(ParamsError, match=r"split.validation_size must be a count .* got 1.5"):
        checked(Split, {"validation_size": 1.5, "holdout_size": 0.1, "method": "last"}, "split")


FOLDER = {"name": "Shapes", "format": "folder", "path": "data/images"}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"path": "data/raw"}, "dataset.archive is missing: with path data/raw, download unpacks"),
        ({"transpose": True}, "dataset.transpose is read only by format idx; remove it"),
        ({"color": "rgb", "centre": "mass"}, "dataset.centre mass centres grayscale digits"),
        ({"image_size": [28]}, "dataset.image_size"),
        ({"archive": {"source": "x.rar", "sha256": "0" * 64}}, "must name a .zip, .tar.gz, .tgz file"),
        ({"format": "idx", "files": None, "classes": ["a", "b"]}, "dataset.files is missing"),
        ({"format": "idx", "image_size": [28, 28]}, "dataset.image_size is read only by format folder"),
    ],
)
def test_dataset_params_that_do_not_fit_their_format_are_refused(changes, message):
    with pytest.raises(ParamsError, match=message):
        checked(Dataset, {**FOLDER, **changes}, "dataset")


def test_a_cnn_trains_on_rgb_pictures_and_augmentation_moves_channels_alike(tmp_path):
    from stages.lib.core.specs import Augmentation, validate_spec
    from stages.lib.training.batches import distort
    from stages.lib.training.fitting import train

    write_dataset(tmp_path, train=6, test=2, color=True)
    parts, _ = load_pictures(list_pictures(tmp_path, None, None, seed=0), "auto", "rgb", "none")
    spec = validate_spec(
        {
            "family": "cnn",
            "blocks": [[8]],
            "kernel_size": 3,
            "dense_units": 8,
            "dropout": 0.0,
            "optimizer": "adam",
            "learning_rate": 0.01,
            "augmentation": {"rotation": 10, "shift": 2, "scale": 0.1},
        },
        "cnn",
    )
    model, _ = train(spec, parts["train"], parts["test"], epochs=1, batch_size=8, seed=0, num_classes=3)
    assert model.input_shape == (None, *SIZES[0], 3)
    x = parts["train"][0][:4]
    moved = distort(np.repeat(x[..., :1], 3, axis=-1), Augmentation(rotation=20, shift=3, scale=0.1), [7, 0])
    np.testing.assert_allclose(moved[..., 0], moved[..., 2])
    np.testing.assert_allclose(
        moved[..., 0], distort(x[..., 0], Augmentation(rotation=20, shift=3, scale=0.1), [7, 0])
    )


def test_the_readmes_example_folder_builds_and_its_dataset_section_reads_it(tmp_path):
    """README, "Your own images": its script, run as written, and its params section."""
    section = (REPO / "README.md").read_text().split("## Your own images")[1].split("\n## ")[0]
    script = re.search(r"python - <<'PY'\n(.*?)\nPY\n", section, re.DOTALL).group(1)
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True)
    dataset = checked(
        Dataset,
        yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1))["dataset"],
        "dataset",
    )
    listing = list_pictures(tmp_path / dataset.path, dataset.classes, dataset.test_fraction, seed=42)
    assert listing.classes == [f"digit-{n}" for n in range(10)]
    assert [len(listing.parts[part]) for part in ("train", "test")] == [1437, 360]
    parts, sizing = load_pictures(listing, dataset.image_size, dataset.color, dataset.centre)
    assert parts["test"][0].shape == (360, 28, 28) and sizing["image_size"] == [28, 28]


def test_a_photo_is_turned_upright_as_its_exif_orientation_says(tmp_path):
    pixels = np.zeros((10, 20), np.uint8)
    pixels[:, :5] = 255  # a bright band on the left, in the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show the stored pixels rotated 90 degrees clockwise
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", exif=exif, quality=100)
    image = read_images(tmp_path / "photo.jpg", Preparation((20, 10)))[0]
    assert image[:5].mean() > 0.9 and image[5:].mean() < 0.1  # the band is now at the top
