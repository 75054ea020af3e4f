"""Fetch dataset files from a list of sources (local folders or URLs), verifying each
file's sha256 before it is kept. The source does not change the bytes that are kept,
so it does not change DVC's cache either."""

import hashlib
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Mapping

from stages.lib.core.artifacts import atomic_path
from stages.lib.core.errors import DownloadError

# A folder or URL with the dataset's files, tried before params.yaml's mirrors; the
# second name is the one earlier versions read, still honoured.
MIRROR_ENV = "DATASET_MIRROR"
MIRROR_ENVS = (MIRROR_ENV, "MNIST_MIRROR")
CHUNK = 1 << 20
MIRROR_HINT = (
    f"Set {MIRROR_ENV} to a folder or URL that holds the dataset's files, "
    f"e.g. `{MIRROR_ENV}=/path/to/files dvc repro`."
)


class ChecksumMismatch(Exception):
    pass


class CutShort(ConnectionError):
    """The server closed the connection before sending the whole body (retried)."""


def sources(mirrors: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    """$DATASET_MIRROR and $MNIST_MIRROR first (those set), then `mirrors` in order."""
    chosen = [environ.get(name, "").strip() for name in MIRROR_ENVS]
    return [mirror for mirror in chosen if mirror] + list(mirrors)


def is_url(source: str) -> bool:
    return urllib.parse.urlsplit(source).scheme in {"http", "https", "file"}


def location(source: str, filename: str) -> str:
    if is_url(source):
        return source.rstrip("/") + "/" + urllib.parse.quote(filename)
    return str(Path(source) / filename)


def _open(address: str, timeout: float):
    if is_url(address):
        return urllib.request.urlopen(address, timeout=timeout)
    return open(address, "rb")


def copy_verified(address: str, sha256: str, destination: Path, timeout: float) -> None:
    """Copy `address` to `destination` if its content has the given sha256."""
    digest, size = hashlib.sha256(), 0
    with atomic_path(destination) as temporary:
        with _open(address, timeout) as source, open(temporary, "wb") as target:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                target.write(chunk)
                size += len(chunk)
            expected = getattr(source, "headers", {}).get("Content-Length")
        if expected is not None and size < int(expected):
            raise CutShort(f"body cut short: got {size} of {expected} bytes")
        if digest.hexdigest() != sha256:
            raise ChecksumMismatch(f"sha256 is {digest.hexdigest()}, expected {sha256}")


def _worth_retrying(error: Exception) -> bool:
    """Server errors and network faults may pass; a 4xx, a missing file or a bad
    checksum will not."""
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500
    return not isinstance(error, (ChecksumMismatch, FileNotFoundError, IsADirectoryError))


def fetch(
    filename: str,
    sha256: str,
    source_list: list[str],
    destination: Path,
    timeout: float = 30.0,
    attempts: int = 3,
    backoff: float = 1.0,
    hint: str = MIRROR_HINT,
) -> str:
    """Fetch one file to `destination`; returns the source that delivered it. Where no
    source has it, the error ends with `hint`, what to do."""
    failures = []
    for source in source_list:
        address = location(source, filename)
        for attempt in range(1, attempts + 1):
            try:
                copy_verified(address, sha256, destination, timeout)
                return source
            except (OSError, ValueError, ChecksumMismatch) as error:
                if attempt == attempts or not _worth_retrying(error):
                    failures.append(f"  {address}: {_describe(error)}")
                    break
                time.sleep(backoff * 2 ** (attempt - 1))
    raise DownloadError(
        f"could not fetch {filename} (sha256 {sha256}) from any source:\n" + "\n".join(failures) + f"\n{hint}"
    )


def _describe(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"unreachable ({error.reason})"
    if isinstance(error, FileNotFoundError):
        return "no such file"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
