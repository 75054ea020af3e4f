"""Datasets kept as folders of pictures, one folder per class (the layout of Keras'
image_dataset_from_directory and torchvision's ImageFolder):

    ROOT/train/CLASS/*.png|jpg|jpeg and ROOT/test/CLASS/*    (two parts), or
    ROOT/CLASS/*                                             (one tree: dataset.test_fraction
                                                              of each class, drawn seeded, tests)

ROOT is dataset.path, or the one folder it holds (an archive often wraps its files so).
Names starting with "." (.DS_Store, .ipynb_checkpoints) are skipped. Anything else that
does not fit the layout is an error naming the file or folder."""

from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.model_selection import train_test_split

from stages.lib.core.errors import DataError, ParamsError
from stages.lib.data.pictures import PICTURE_SUFFIXES


class Listing(NamedTuple):
    classes: list[str]
    parts: dict[str, list[tuple[Path, int]]]  # "train" and "test": (picture, label), in order


def visible(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if not entry.name.startswith("."))


def dataset_root(path: Path) -> Path:
    if not path.is_dir():
        raise ParamsError(f"dataset.path {path} is not a folder: point it at your folder of class folders")
    entries = visible(path)
    while len(entries) == 1 and entries[0].is_dir() and entries[0].name not in ("train", "test"):
        path, entries = entries[0], visible(entries[0])
    return path


def class_folders(folder: Path) -> dict[str, list[Path]]:
    """Each class folder's pictures, by class name."""
    classes = {}
    for entry in visible(folder):
        if not entry.is_dir():
            raise DataError(f"{entry} is a file, but {folder} should hold only class folders: move it out")
        pictures = visible(entry)
        for picture in pictures:
            if picture.is_dir() or picture.suffix.lower() not in PICTURE_SUFFIXES:
                what = "a folder" if picture.is_dir() else "not a .png, .jpg or .jpeg file"
                raise DataError(f"{picture} is {what}: a class folder holds pictures only; move it out")
        if not pictures:
            raise DataError(f"{entry} holds no pictures: add some, or remove the folder")
        classes[entry.name] = pictures
    if len(classes) < 2:
        raise DataError(f"{folder} holds {len(classes)} class folder(s); a dataset needs at least 2")
    return classes


def list_pictures(path: Path, classes: list[str] | None, test_fraction: float | None, seed: int) -> Listing:
    """The dataset's pictures and labels, the training ones in a seeded random order;
    labels follow `classes` (dataset.classes), or the training folders' names in sorted
    order."""
    root = dataset_root(path)
    names = {entry.name for entry in visible(root)}
    two_parts = {"train", "test"} <= names
    if two_parts:
        if test_fraction is not None:
            raise ParamsError(
                f"dataset.test_fraction splits one tree of class folders, but {root} has train/ and "
                "test/: remove it"
            )
        if extra := sorted(names - {"train", "test"}):
            raise DataError(
                f"{root / extra[0]}: {root} holds train/ and test/, and nothing else should be there"
            )
        found = {part: class_folders(root / part) for part in ("train", "test")}
        train = found["train"]
    elif test_fraction is None:
        raise ParamsError(
            f"{root} holds class folders but no train/ and test/ folders: set dataset.test_fraction "
            "(e.g. 0.2) to keep that share of each class for the test set"
        )
    else:
        train = class_folders(root)
    classes = label_order(classes, sorted(train), root / "train" if two_parts else root)
    if two_parts:
        if unknown := sorted(set(found["test"]) - set(train)):
            name = unknown[0]
            raise DataError(
                f"{root / 'test' / name}: class {name!r} has no training folder ({root / 'train' / name}): "
                "add its training pictures, or remove it"
            )
        parts = {part: labelled(found[part], classes) for part in ("train", "test")}
    else:
        pictures = labelled(train, classes)
        try:
            kept, held = train_test_split(
                pictures,
                test_size=test_fraction,
                stratify=[label for _, label in pictures],
                random_state=seed,
            )
        except ValueError as error:
            raise ParamsError(f"dataset.test_fraction {test_fraction} cannot split {root}: {error}") from None
        parts = {"train": kept, "test": sorted(held)}
    # The training pictures in a seeded random order, not class after class, so that
    # split's method `last` takes a random sample too.
    order = np.random.default_rng(seed).permutation(len(parts["train"]))
    return Listing(classes, {"train": [parts["train"][i] for i in order], "test": parts["test"]})


def label_order(classes: list[str] | None, found: list[str], where: Path) -> list[str]:
    if classes is None:
        return found
    missing, extra = sorted(set(classes) - set(found)), sorted(set(found) - set(classes))
    differences = [f"no folder for {', '.join(missing)}"] if missing else []
    differences += [f"not listed: {', '.join(extra)}"] if extra else []
    if differences:
        raise ParamsError(
            f"dataset.classes does not match the class folders in {where}: {'; '.join(differences)}. "
            "List exactly the folders' names (or remove dataset.classes to take them in sorted order)"
        )
    return classes


def labelled(folders: dict[str, list[Path]], classes: list[str]) -> list[tuple[Path, int]]:
    return [(picture, classes.index(name)) for name in classes for picture in folders.get(name, [])]
