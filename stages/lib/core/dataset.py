"""The dataset section of params.yaml: the dataset's format and where it comes from, its
name and class names, and how its images are prepared."""

import re
from pathlib import PurePath
from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field

from stages.lib.core.params import Strict, problem
from stages.lib.core.paths import RAW_DIR

Name = Annotated[str, Field(min_length=1)]


def _sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise problem("", f" must be 64 lowercase hex digits (a sha256), got {value!r}")
    return value


Sha256 = Annotated[str, pydantic.AfterValidator(_sha256)]


class FileEntry(Strict):
    filename: Name
    sha256: Sha256

    @pydantic.field_validator("filename")
    @classmethod
    def _bare(cls, value: str) -> str:
        if PurePath(value).name != value:
            raise problem("", f" must be a bare file name without folders, got {value!r}")
        return value


class DatasetFiles(Strict):
    train_images: FileEntry
    train_labels: FileEntry
    test_images: FileEntry
    test_labels: FileEntry

    def entries(self) -> list[FileEntry]:
        return [getattr(self, role) for role in type(self).model_fields]


ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")


class Archive(Strict):
    source: Name  # a URL or a local path of a .zip, .tar.gz or .tgz file
    sha256: Sha256

    @pydantic.field_validator("source")
    @classmethod
    def _kind(cls, value: str) -> str:
        if not value.lower().endswith(ARCHIVE_SUFFIXES):
            raise problem("", f" must name a {', '.join(ARCHIVE_SUFFIXES)} file, got {value!r}")
        return value


Size = Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]

# Keys that only one format reads, and the value that means "not used".
IDX_ONLY = {"transpose": False, "mirrors": [], "files": None}
FOLDER_ONLY = {"archive": None, "test_fraction": None, "image_size": "auto", "color": "grayscale"}


class Dataset(Strict):
    name: Name
    format: Literal["idx", "folder"] = "idx"
    path: Name = RAW_DIR.as_posix()  # the folder preprocess reads
    classes: Annotated[list[Name], Field(min_length=2)] | None = None  # label order; idx: required
    centre: Literal["mass", "none"] = "none"
    # idx
    transpose: bool = False
    mirrors: list[Name] = []
    files: DatasetFiles | None = None
    # folder
    archive: Archive | None = None
    test_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    image_size: Literal["auto", "keep"] | Size = "auto"
    color: Literal["grayscale", "rgb"] = "grayscale"

    @property
    def downloaded(self) -> bool:
        """Whether preprocess reads what download fetches (data/raw), not the user's folder."""
        return PurePath(self.path) == PurePath(RAW_DIR)

    @pydantic.field_validator("classes", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        """Numbers are names too (YAML reads `[0, 1]` as integers)."""
        return (
            [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
            if isinstance(value, list)
            else value
        )

    @pydantic.field_validator("classes")
    @classmethod
    def _distinct(cls, names: list[str] | None) -> list[str] | None:
        if names is None:
            return names
        if len(names) > 256:
            raise problem("", f" must name at most 256 classes (labels are single bytes), got {len(names)}")
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise problem("", f" must name each class once; repeated: {', '.join(repeated)}")
        return names

    @pydantic.model_validator(mode="after")
    def _fits_format(self):
        other = FOLDER_ONLY if self.format == "idx" else IDX_ONLY
        for key, unused in other.items():
            if getattr(self, key) != unused:
                reader = "folder" if self.format == "idx" else "idx"
                raise problem(
                    f".{key}", f" is read only by format {reader}; remove it (format is {self.format})"
                )
        if self.format == "idx":
            for key in ("classes", "files"):
                if getattr(self, key) is None:
                    raise problem(f".{key}", " is missing: format idx needs it")
        elif self.downloaded and self.archive is None:
            raise problem(
                ".archive",
                f" is missing: with path {RAW_DIR}, download unpacks dataset.archive ({{source: URL or path, "
                "sha256: ...}) there; or set dataset.path to your own folder of images",
            )
        elif not self.downloaded and self.archive is not None:
            raise problem(
                ".path", f" must be {RAW_DIR} (where download unpacks dataset.archive), got {self.path!r}"
            )
        if self.color == "rgb" and self.centre == "mass":
            raise problem(".centre", " mass centres grayscale digits; with color rgb use none")
        return self
