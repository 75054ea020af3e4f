"""Reading and writing stage artifacts. Every write is atomic: the data goes to a
temporary file beside the target, which is renamed onto it only once complete, so an
interrupted stage never leaves a half-written artifact for DVC to cache."""

import json
import os
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from stages.lib.core.errors import DataError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder (so the rename is atomic) and same suffix (Keras checks it).
    temporary = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder to fill; it replaces the folder `path` (and everything in
    it) if the block succeeds, and is removed if it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp", dir=path.parent))
    temporary.chmod(0o755)  # as a folder made by mkdir is, not mkdtemp's 0o700
    try:
        yield temporary
        shutil.rmtree(path, ignore_errors=True)
        os.replace(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def save_arrays(path: str | os.PathLike, /, **arrays: np.ndarray) -> None:
    """Compressed .npz of plain numeric or text arrays (never pickled objects)."""
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        np.savez_compressed(file, **arrays)


def load_arrays(path: str | os.PathLike, *names: str) -> tuple[np.ndarray, ...]:
    """The named arrays of an .npz file, loaded without pickle."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} not found: run `dvc repro` to produce it")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in names if name not in data.files]
            if missing:
                raise DataError(f"{path} lacks the array(s) {missing}; it holds {data.files}")
            return tuple(data[name] for name in names)
    except (ValueError, OSError, zipfile.BadZipFile) as error:  # pickled objects, or not an .npz
        raise DataError(
            f"{path} is not a plain-array .npz file ({error}): rerun the stage that "
            "writes it with `dvc repro --force --single-item STAGE`"
        ) from None


def load_images(*paths: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels (arrays x and y) of one or more .npz files, in order."""
    parts = [load_arrays(path, "x", "y") for path in paths]
    return tuple(np.concatenate(arrays) for arrays in zip(*parts, strict=True))


def write_json(path: str | os.PathLike, value) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(value, indent=2) + "\n")


def read_json(path: str | os.PathLike):
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} not found: run `dvc repro` to produce it")
    return json.loads(path.read_text())


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def write_csv(path: str | os.PathLike, frame, index: bool = False) -> None:
    """A pandas DataFrame as CSV."""
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=index)


def load_parts(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """preprocess's train and test parts: each one's x and y, and path where it kept the
    pictures' files (a folder dataset)."""
    parts = {}
    for part in ("train", "test"):
        with np.load(folder / f"{part}.npz", allow_pickle=False) as data:
            names = [name for name in ("x", "y", "path") if name in data.files]
        parts[part] = dict(zip(names, load_arrays(folder / f"{part}.npz", *names), strict=True))
    return parts
