"""Pictures as people make them (16-bit PNGs, transparent drawings, phone JPEGs and the
other modes PNG and JPEG files come in) read as a person sees them, by preprocess, predict
and serve alike: each prepares to the image its plain 8-bit twin prepares to, and the
three readers give a real digit's class; what cannot be read is one line naming the file,
however its bytes are damaged."""

import io
import json
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from stages.lib.core.errors import DataError
from stages.lib.data.decoding import load_pictures
from stages.lib.data.folders import list_pictures
from stages.lib.data.pictures import Preparation, prepare, read_images
from stages.lib.data.reading import open_picture
from stages.lib.serving.uploads import UploadError, prepare_upload
from tests import REPO, workspaces
from tests.real_data import subset
from tests.workspaces import CLASSES, trained_workspace

DIGITS = Preparation((28, 28), centre="mass")  # MNIST's
COLOUR = Preparation((28, 28), "rgb")  # a folder dataset's, in colour
TEST_DIGITS = {"seven": 0, "one": 2}  # MNIST's test images 0 and 2


def drawn(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit as a person draws it: black on white, 140x140, 0-255."""
    return 255 - np.asarray(Image.fromarray(digit).resize((140, 140), Image.Resampling.BILINEAR))


def encoded(picture: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format, **options)
    return buffer.getvalue()


def png16(values: np.ndarray) -> bytes:
    """A 16-bit PNG (Pillow writes only grayscale ones): (h, w, channels) of uint16,
    1 to 4 channels (gray, gray + alpha, RGB, RGBA)."""
    height, width, channels = values.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in values)
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def ink_on_transparency(gray: np.ndarray, ink: int) -> Image.Image:
    """The drawing's ink (255 - gray) as the alpha of one colour, the rest transparent."""
    colour = np.full((*gray.shape, 3), ink, np.uint8)
    return Image.fromarray(np.dstack([colour, 255 - gray]), "RGBA")


def rotated_with_exif(gray: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # show the stored pixels turned 90 degrees clockwise
    return encoded(Image.fromarray(gray).transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif, quality=95)


def phone_jpeg(gray: np.ndarray) -> bytes:
    """An MPO: the photo, then a second picture (a phone's depth map or preview)."""
    second = Image.new("RGB", gray.shape[::-1], "gray")
    return encoded(Image.fromarray(gray).convert("RGB"), "MPO", save_all=True, append_images=[second])


def sixteen_bits(gray: np.ndarray) -> bytes:
    return encoded(Image.fromarray(gray.astype(np.uint16) * 257), "PNG")


# The table: the same drawing as people save it, each kind with its file's name.
TABLE = {
    "8-bit grayscale PNG": ("plain.png", lambda gray: encoded(Image.fromarray(gray), "PNG")),
    "16-bit grayscale PNG": ("deep.png", sixteen_bits),
    "black ink on transparency": ("black-ink.png", lambda gray: encoded(ink_on_transparency(gray, 0), "PNG")),
    "white ink on transparency": (
        "white-ink.png",
        lambda gray: encoded(ink_on_transparency(gray, 255), "PNG"),
    ),
    "phone JPEG (MPO)": ("phone.jpg", phone_jpeg),
    "JPEG with EXIF orientation 6": ("turned.jpg", rotated_with_exif),
}


def palette_with_transparent_paper(gray: np.ndarray) -> bytes:
    palette = Image.fromarray(gray).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    paper = int(np.asarray(palette)[0, 0])
    return encoded(palette, "PNG", transparency=paper)


# Every other mode a PNG or JPEG file comes in.
MODES = {
    "1-bit PNG": lambda gray: encoded(Image.fromarray(gray > 127), "PNG"),
    "palette PNG": lambda gray: encoded(Image.fromarray(gray).convert("P"), "PNG"),
    "palette PNG, paper a transparent index": palette_with_transparent_paper,
    "gray + alpha PNG": lambda gray: encoded(Image.fromarray(np.dstack([gray * 0, 255 - gray]), "LA"), "PNG"),
    "gray PNG, paper a transparent value": lambda gray: encoded(
        Image.fromarray(np.where(gray > 250, 255, gray).astype(np.uint8)), "PNG", transparency=255
    ),
    "16-bit RGB PNG": lambda gray: png16(np.repeat(gray[..., None].astype(np.uint16) * 257, 3, axis=-1)),
    "16-bit gray + alpha PNG, white ink": lambda gray: png16(
        np.dstack([np.full_like(gray, 65535, np.uint16), (255 - gray).astype(np.uint16) * 257])
    ),
    "16-bit RGBA PNG, black ink": lambda gray: png16(
        np.dstack([np.zeros((*gray.shape, 3), np.uint16), (255 - gray).astype(np.uint16) * 257])
    ),
    "16-bit grayscale PNG, a scan's range (12,000-52,800)": lambda gray: encoded(
        Image.fromarray((12_000 + gray.astype(np.uint16) * 160).astype(np.uint16)), "PNG"
    ),
    "CMYK JPEG": lambda gray: encoded(Image.fromarray(gray).convert("CMYK"), "JPEG", quality=95),
}


@pytest.fixture(scope="module")
def digits(dataset_folder):
    """{class name: the MNIST test digit drawn black on white at 140x140}."""
    images = subset(dataset_folder, 0, max(TEST_DIGITS.values()) + 1)[1][0]
    return {name: drawn(images[index]) for name, index in TEST_DIGITS.items()}


def prepared(data: bytes, preparation: Preparation) -> np.ndarray:
    return prepare(open_picture(io.BytesIO(data), "picture"), preparation)


LIGHT_INK = ("white ink on transparency", "16-bit gray + alpha PNG, white ink")  # seen on black


# The 8-bit picture a person sees in each kind, where it is not the drawing itself.
TWINS = {
    "1-bit PNG": lambda gray: np.where(gray > 127, 255, 0).astype(np.uint8),
    "16-bit grayscale PNG, a scan's range (12,000-52,800)": lambda gray: np.round(
        (12_000 + gray * 160.0) / 257
    ).astype(np.uint8),
    **{kind: lambda gray: 255 - gray for kind in LIGHT_INK},
}


def made(kind: str, gray: np.ndarray) -> bytes:
    return TABLE[kind][1](gray) if kind in TABLE else MODES[kind](gray)


@pytest.mark.parametrize("kind", [*TABLE, *MODES])
@pytest.mark.parametrize("preparation", [DIGITS, COLOUR], ids=["centre mass", "rgb"])
def test_each_kind_of_picture_prepares_as_its_plain_8_bit_twin(digits, kind, preparation):
    """As MNIST prepares it (either polarity is the same digit), and as a colour folder
    dataset does (the polarity a person sees: transparency over white or black)."""
    gray = digits["seven"]
    image = prepared(made(kind, gray), preparation)
    assert image.shape == preparation.shape and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    twin = TWINS.get(kind, lambda gray: gray)(gray)
    reference = prepare(Image.fromarray(twin), preparation)
    assert np.corrcoef(image.ravel(), reference.ravel())[0, 1] > 0.98
    assert np.abs(image - reference).mean() < 0.03


def test_white_ink_on_transparency_is_drawn_on_black_and_black_ink_on_white(digits):
    gray = digits["seven"]
    darkest = np.unravel_index(gray.argmin(), gray.shape)
    for ink, paper in ((0, 1.0), (255, 0.0)):
        image = prepared(encoded(ink_on_transparency(gray, ink), "PNG"), Preparation((140, 140)))
        assert image[0, 0] == paper and abs(image[darkest] - paper) > 0.9


def test_a_fully_transparent_picture_is_blank(digits):
    empty = encoded(Image.new("RGBA", (40, 40), (0, 0, 0, 0)), "PNG")
    with pytest.raises(DataError, match="the image is blank"):
        prepared(empty, DIGITS)


@pytest.mark.parametrize("format", ["GIF", "WEBP", "TIFF", "BMP"])
def test_other_formats_are_refused_in_one_line_naming_the_file(tmp_path, format):
    (tmp_path / "digit.png").write_bytes(encoded(Image.new("L", (28, 28), 255), format))
    with pytest.raises(DataError) as raised:
        read_images(tmp_path / "digit.png", DIGITS)
    refusal = "image; only PNG and JPEG are read: convert it"
    assert str(raised.value) == f"{tmp_path / 'digit.png'} is a {format} {refusal}"
    with pytest.raises(UploadError, match=f"^upload.png is a {format} image") as refused:
        prepare_upload("upload.png", (tmp_path / "digit.png").read_bytes(), DIGITS)
    assert refused.value.status == 400


@pytest.mark.parametrize("failure", [ZeroDivisionError("division by zero"), IndexError("tuple index")])
def test_a_failure_inside_pillows_exif_handling_is_one_line_naming_the_file(
    tmp_path, digits, monkeypatch, failure
):
    """exif_transpose has raised both on malformed EXIF: preprocess stops with the line,
    predict says it, serve answers 400."""

    upright = ImageOps.exif_transpose

    def broken(picture):
        if picture.getexif().get(0x0112):  # an orientation
            raise failure
        return upright(picture)

    monkeypatch.setattr(ImageOps, "exif_transpose", broken)
    for part in ("train", "test"):
        for name in ("one", "seven"):
            (tmp_path / part / name).mkdir(parents=True)
        (tmp_path / part / "one" / "plain.png").write_bytes(made("8-bit grayscale PNG", digits["one"]))
        (tmp_path / part / "seven" / "turned.jpg").write_bytes(rotated_with_exif(digits["seven"]))
    path = tmp_path / "train" / "seven" / "turned.jpg"
    line = f"{path} cannot be decoded ({type(failure).__name__}: {failure}): replace it, or remove it"
    with pytest.raises(DataError) as raised:
        load_pictures(list_pictures(tmp_path, None, None, seed=0), [28, 28], "grayscale", "mass")
    assert str(raised.value) == line
    with pytest.raises(DataError) as raised:
        read_images(path, DIGITS)
    assert str(raised.value) == line
    with pytest.raises(UploadError) as refused:
        prepare_upload("turned.jpg", path.read_bytes(), DIGITS)
    assert refused.value.status == 400 and str(refused.value) == line.replace(str(path), "turned.jpg")


def test_a_picture_too_large_to_decode_safely_stops_preprocess_with_one_line(tmp_path, digits):
    """Over twice Pillow's MAX_IMAGE_PIXELS (a decompression bomb): refused from its header."""
    for name in ("one", "seven"):
        (tmp_path / name).mkdir()
        for copy in ("a", "b"):
            (tmp_path / name / f"{copy}.png").write_bytes(made("8-bit grayscale PNG", digits[name]))
    huge = tmp_path / "seven" / "huge.png"
    Image.new("1", (14_000, 14_000)).save(huge)
    with pytest.raises(DataError) as raised:
        load_pictures(list_pictures(tmp_path, None, 0.5, seed=0), [28, 28], "grayscale", "mass")
    assert str(raised.value) == f"{huge} has too many pixels to be decoded safely: make it smaller"


def with_exif_bytes_changed(changes: list[tuple[int, int]]) -> bytes:
    exif = Image.Exif()
    exif[0x0112], exif[0x011A] = 6, (72, 1)  # orientation, x resolution
    data = bytearray(encoded(Image.new("L", (16, 16), 200), "JPEG", exif=exif))
    for position, value in changes:
        data[position] = value
    return bytes(data)


@pytest.mark.parametrize(
    "changes, failure",
    [  # found by changing random bytes of the EXIF block; Pillow 13.0 raised each
        ([(53, 17), (70, 95), (119, 29), (135, 43)], "struct.error: required argument is not an integer"),
        ([(53, 77), (73, 64)], "AttributeError: 'IFDRational' object has no attribute 'encode'"),
        ([(55, 7), (67, 127)], "TypeError: bad operand type for abs(): 'bytes'"),
    ],
)
def test_malformed_exif_is_one_line_naming_the_file(changes, failure):
    with pytest.raises(UploadError) as refused:
        prepare_upload("photo.jpg", with_exif_bytes_changed(changes), DIGITS)
    assert refused.value.status == 400
    assert str(refused.value) == f"photo.jpg cannot be decoded ({failure}): replace it, or remove it"


def mutations():
    """Valid PNG or JPEG bytes with some bytes overwritten, and perhaps cut short."""
    return st.tuples(
        st.sampled_from(["png", "jpeg", "mpo"]),
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8),
        st.one_of(st.none(), st.integers(1, 10**6)),
    )


def mutated(valid: dict, mutation) -> bytes:
    kind, changes, cut = mutation
    data = bytearray(valid[kind])
    for position, value in changes:
        data[position % len(data)] = value
    return bytes(data[: cut % len(data)] if cut else data)


def valid_pictures() -> dict:
    gray = np.full((48, 40), 255, np.uint8)
    gray[8:40, 18:22] = 0  # a "1"
    exif = Image.Exif()
    exif[0x0112] = 3
    return {
        "png": encoded(ink_on_transparency(gray, 0), "PNG"),
        "jpeg": encoded(Image.fromarray(gray), "JPEG", exif=exif),
        "mpo": phone_jpeg(gray),
    }


VALID = valid_pictures()


@settings(max_examples=300, deadline=None)
@given(mutations())
def test_damaged_bytes_give_an_image_or_one_line_naming_the_file(mutation):
    data = mutated(VALID, mutation)
    for preparation in (DIGITS, COLOUR):
        try:
            image = prepare(open_picture(io.BytesIO(data), "damaged.png"), preparation)
        except DataError as error:
            assert "damaged.png" in str(error) or "blank" in str(error)
            assert "\n" not in str(error) and "object at 0x" not in str(error)
        else:
            assert image.shape == preparation.shape and 0.0 <= image.min() and image.max() <= 1.0


# Through the three readers, with a small CNN trained on real digits.


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, dataset_folder):
    return trained_workspace(tmp_path_factory.mktemp("workspace"), workspaces.digits(dataset_folder))


@pytest.fixture(scope="module")
def table_files(tmp_path_factory, digits):
    """{(class, row): file} for every row of the table and both digits."""
    folder = tmp_path_factory.mktemp("table")
    files = {}
    for name, gray in digits.items():
        for row, (file_name, make) in TABLE.items():
            files[name, row] = folder / f"{name}-{file_name}"
            files[name, row].write_bytes(make(gray))
    return files


@pytest.mark.slow
def test_predict_gives_each_row_of_the_table_its_class(workspace, table_files):
    result = subprocess.run(
        [sys.executable, "-m", "stages.predict", "--json", *map(str, table_files.values())],
        cwd=workspace,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    said = [answer["class"] for answer in json.loads(result.stdout)["predictions"]]
    assert said == [name for name, _ in table_files], dict(zip(table_files, said, strict=True))


@pytest.mark.slow
def test_serve_gives_each_row_of_the_table_its_class(client, table_files):
    for (name, row), path in table_files.items():
        response = client.post("/predict", files={"file": (path.name, path.read_bytes())})
        assert response.status_code == 200, (row, response.text)
        assert response.json()["predictions"][0]["class"] == name, (row, response.json())


@pytest.mark.slow
def test_preprocess_prepares_each_row_of_the_table_as_its_class(classifier, table_files, tmp_path):
    """`python -m stages.preprocess` on a folder dataset of the table's pictures, then the
    model on the images it prepared."""
    for part in ("train", "test"):
        for (name, _), path in table_files.items():
            (tmp_path / "pictures" / part / name).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, tmp_path / "pictures" / part / name / path.name)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["dataset"] = {
        "name": "Pictures as people make them",
        "format": "folder",
        "path": "pictures",
        "image_size": [28, 28],
        "centre": "mass",
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [sys.executable, "-m", "stages.preprocess"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    classes = json.loads((tmp_path / "data" / "prepared" / "dataset.json").read_text())["classes"]
    for part in ("train", "test"):
        with np.load(tmp_path / "data" / "prepared" / f"{part}.npz") as arrays:
            answers = classifier.answers(arrays["x"])
            expected = [classes[label] for label in arrays["y"]]
        assert [answer["class"] for answer in answers] == expected
        assert len(expected) == len(table_files)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(mutation=mutations())
def test_serve_answers_damaged_uploads_with_a_class_or_one_line(client, mutation):
    response = client.post("/predict", files={"file": ("damaged.png", mutated(VALID, mutation))})
    assert response.status_code in (200, 400, 413), response.text
    answer = response.json()
    if response.status_code == 200:
        assert answer["predictions"][0]["class"] in CLASSES
    else:
        assert list(answer) == ["error"] and "\n" not in answer["error"]
        assert "damaged.png" in answer["error"] or "blank" in answer["error"]
