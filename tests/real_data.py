"""The real dataset files for the tests, from wherever they can be had: no test
needs ../shared or the internet in particular.

Sources, in order: $DATASET_MIRROR and $MNIST_MIRROR (a folder or URL), ../shared/mnist
beside the repository (our development machines), the repository's own data/raw (after
`dvc repro`), then the public mirrors of params.yaml. The files params.yaml names are
fetched with the pipeline's own fetcher, sha256-verified, into a cache folder
($MNIST_DVC_CACHE, else $XDG_CACHE_HOME/mnist-dvc or ~/.cache/mnist-dvc), so that each
is fetched once per machine.
"""

import functools
import hashlib
import os
from pathlib import Path
from typing import Mapping

from stages.lib.core.config import PARAMS_FILE, load_params
from stages.lib.core.dataset import Dataset
from stages.lib.core.errors import DownloadError
from stages.lib.core.paths import RAW_DIR
from stages.lib.data.fetching import fetch, sources
from stages.lib.data.idx import load_images_and_labels
from tests import REPO

CACHE_ENV = "MNIST_DVC_CACHE"
LOCAL_COPIES = (REPO.parent / "shared" / "mnist", REPO / RAW_DIR)


def cache_folder(environ: Mapping[str, str] = os.environ) -> Path:
    if environ.get(CACHE_ENV):
        return Path(environ[CACHE_ENV])
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnist-dvc"


@functools.cache
def dataset() -> Dataset:
    """params.yaml's dataset section: MNIST, as the repository ships it."""
    return load_params(REPO / PARAMS_FILE).dataset


def dataset_folder(environ: Mapping[str, str] = os.environ) -> Path:
    """A folder holding the dataset's four files, each with its sha256 checked."""
    folder = cache_folder(environ) / dataset().name
    source_list = (
        sources([], environ) + [str(path) for path in LOCAL_COPIES if path.is_dir()] + dataset().mirrors
    )
    try:
        for file in dataset().files.entries():
            target = folder / file.filename
            if not (target.is_file() and _sha256(target) == file.sha256):
                fetch(file.filename, file.sha256, source_list, target, timeout=10, attempts=2)
    except DownloadError as error:
        raise DownloadError(
            f"the tests that train on real images need {dataset().name}'s files and found "
            f"them nowhere (they are kept in {folder} once found): {error}"
        ) from None
    return folder


def _sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def subset(folder: Path, train_size: int, test_size: int):
    """[(train images, labels), (test images, labels)]: the first images of each part,
    uint8 pixels."""
    files, parts = dataset().files, []
    for part, size in (("train", train_size), ("test", test_size)):
        images, labels = load_images_and_labels(
            folder / getattr(files, f"{part}_images").filename,
            folder / getattr(files, f"{part}_labels").filename,
            len(dataset().classes),
        )
        parts.append((images[:size], labels[:size]))
    return parts
