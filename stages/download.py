"""Stage download: fetch the dataset's IDX files into data/raw.

Sources, in order: $DATASET_MIRROR and $MNIST_MIRROR (the older name; each a local
folder or a URL) when set, then params.yaml's dataset.mirrors. A file is kept only if its sha256 matches
dataset.files, so the source never changes what DVC caches.
"""

import logging

from stages.lib.core.cli import run_stage
from stages.lib.core.config import load_params
from stages.lib.core.errors import DownloadError
from stages.lib.core.paths import RAW_DIR
from stages.lib.data.fetching import MIRROR_ENV, fetch, sources

log = logging.getLogger(__name__)


def main(args):
    dataset = load_params().dataset
    source_list = sources(dataset.mirrors)
    if not source_list:
        raise DownloadError(
            f"no source to download from: set {MIRROR_ENV} or list dataset.mirrors in params.yaml"
        )
    for file in dataset.files.entries():
        source = fetch(file.filename, file.sha256, source_list, RAW_DIR / file.filename)
        log.info("%s: sha256 verified, from %s", file.filename, source)


if __name__ == "__main__":
    run_stage(main, __doc__)
