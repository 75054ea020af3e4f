"""Unpacking a dataset's .zip or .tar.gz archive into a folder, refusing any member that
would land outside it (an absolute path, a `..` part, a link, a device): zip-slip and
its tar cousins."""

import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from stages.lib.core.errors import DataError


def unsafe(name: str) -> str | None:
    """Why a member name may not be unpacked, or None."""
    if (
        PurePosixPath(name).is_absolute()
        or PureWindowsPath(name).is_absolute()
        or PureWindowsPath(name).drive
    ):
        return "is an absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "climbs out with '..'"
    return None


def _refuse(archive: Path, name: str, why: str):
    raise DataError(
        f"{archive}: member {name!r} {why}, which would write outside the dataset's folder; "
        "nothing was unpacked. Rebuild the archive with paths relative to its own root"
    )


def unpack(archive: Path, destination: Path) -> None:
    """Every member of `archive` (.zip, .tar.gz or .tgz) under `destination`, which it
    creates; on any refused member or damaged archive nothing is left there."""
    destination.mkdir(parents=True)
    try:
        if archive.name.lower().endswith(".zip"):
            _unzip(archive, destination)
        else:
            _untar(archive, destination)
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)
        raise


def _unzip(archive: Path, destination: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as opened:
            for member in opened.infolist():
                if why := unsafe(member.filename):
                    _refuse(archive, member.filename, why)
                if (member.external_attr >> 16) & 0o170000 == 0o120000:
                    _refuse(archive, member.filename, "is a symbolic link")
            opened.extractall(destination)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise DataError(f"{archive} is not a readable zip archive ({error}): download it again") from None


def _untar(archive: Path, destination: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as opened:
            members = opened.getmembers()
            for member in members:
                if why := unsafe(member.name):
                    _refuse(archive, member.name, why)
                if not (member.isfile() or member.isdir()):
                    _refuse(archive, member.name, "is a link or a device, not a file or folder")
            opened.extractall(destination, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataError(f"{archive} is not a readable .tar.gz archive ({error}): download it again") from None
