"""Stage download: fetch what params.yaml's dataset section names into data/raw.

- format idx: the four IDX files, from $DATASET_MIRROR and $MNIST_MIRROR (the older name;
  each a local folder or a URL) when set, then each of dataset.mirrors in order.
- format folder with dataset.archive: the .zip or .tar.gz archive (a URL or a local path),
  unpacked into data/raw; a member that would land outside it (an absolute path, `..`, a
  link) is refused and nothing is unpacked.
- dataset.path set to your own folder: nothing to fetch (data/raw is left empty);
  preprocess reads that folder, and dvc.yaml makes it depend on it.
A file is kept only if its sha256 matches params.yaml's, so the source never changes
what DVC caches.
"""

import logging
import shutil
import tempfile
import urllib.parse
from pathlib import Path

from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.errors import DownloadError
from stages.lib.core.paths import RAW_DIR
from stages.lib.data.archives import unpack
from stages.lib.data.fetching import MIRROR_ENV, fetch, is_url, sources

log = logging.getLogger(__name__)
ARCHIVE_HINT = "Check dataset.archive.source, and dataset.archive.sha256 (`sha256sum FILE` prints a file's)."


def main(args):
    dataset = load_params().dataset
    if not dataset.downloaded:
        RAW_DIR.mkdir(parents=True, exist_ok=True)
        log.info("dataset.path is %s: nothing to download", dataset.path)
    elif dataset.format == "idx":
        source_list = sources(dataset.mirrors)
        if not source_list:
            raise DownloadError(
                f"no source to download from: set {MIRROR_ENV} or list dataset.mirrors in params.yaml"
            )
        for file in dataset.files.entries():
            source = fetch(file.filename, file.sha256, source_list, RAW_DIR / file.filename)
            log.info("%s: sha256 verified, from %s", file.filename, source)
    else:
        download_archive(dataset.archive.source, dataset.archive.sha256)


def download_archive(source: str, sha256: str) -> None:
    """The archive at `source`, verified, unpacked into data/raw (replacing it) through a
    folder beside it, so that data/raw is either complete or not there."""
    folder, _, filename = source.rstrip("/").rpartition("/")
    filename = urllib.parse.unquote(filename) if is_url(source) else filename
    RAW_DIR.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=RAW_DIR.parent, prefix=".download-") as work:
        archive, unpacked = Path(work) / filename, Path(work) / "raw"
        fetch(filename, sha256, [folder or "."], archive, hint=ARCHIVE_HINT)
        log.info("%s: sha256 verified, unpacking", filename)
        unpack(archive, unpacked)
        shutil.rmtree(RAW_DIR, ignore_errors=True)
        unpacked.rename(RAW_DIR)
    log.info("%s: %d files", RAW_DIR, sum(1 for path in RAW_DIR.rglob("*") if path.is_file()))


if __name__ == "__main__":
    run_stage(main, __doc__)
