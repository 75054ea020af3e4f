"""The dataset section of params.yaml: its name, class names, mirrors and files."""

import re
from pathlib import PurePath
from typing import Annotated, Any

import pydantic
from pydantic import Field

from stages.lib.core.params import Strict, problem

Name = Annotated[str, Field(min_length=1)]


class FileEntry(Strict):
    filename: Name
    sha256: str

    @pydantic.field_validator("filename")
    @classmethod
    def _bare(cls, value: str) -> str:
        if PurePath(value).name != value:
            raise problem("", f" must be a bare file name without folders, got {value!r}")
        return value

    @pydantic.field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise problem("", f" must be 64 lowercase hex digits (a sha256), got {value!r}")
        return value


class DatasetFiles(Strict):
    train_images: FileEntry
    train_labels: FileEntry
    test_images: FileEntry
    test_labels: FileEntry

    def entries(self) -> list[FileEntry]:
        return [getattr(self, role) for role in type(self).model_fields]


class Dataset(Strict):
    name: Name
    classes: Annotated[list[Name], Field(min_length=2)]  # the name of each label, in label order
    transpose: bool
    mirrors: list[Name]
    files: DatasetFiles

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
    def _distinct(cls, names: list[str]) -> list[str]:
        if len(names) > 256:
            raise problem(
                "", f" must name at most 256 classes (IDX labels are single bytes), got {len(names)}"
            )
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise problem("", f" must name each class once; repeated: {', '.join(repeated)}")
        return names
