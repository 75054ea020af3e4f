"""The dataset section of params.yaml: its name, classes, mirrors and files."""

import re
from pathlib import Path
from typing import Mapping

from stages.lib.errors import ParamsError
from stages.lib.params import integer, list_of, section, text, validate

FILE_ROLES = ("train_images", "train_labels", "test_images", "test_labels")


def sha256_hex(value, where):
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ParamsError(f"{where} must be 64 lowercase hex digits (a sha256), got {value!r}")
    return value


def filename(value, where):
    value = text(value, where)
    if Path(value).name != value:
        raise ParamsError(f"{where} must be a bare file name without folders, got {value!r}")
    return value


def file_entry(value, where):
    return validate(value, {"filename": filename, "sha256": sha256_hex}, where)


SCHEMA = {
    "name": text,
    "num_classes": integer(minimum=2, maximum=256),
    "mirrors": list_of(text, min_length=0),
    "files": lambda value, where: validate(value, dict.fromkeys(FILE_ROLES, file_entry), where),
}


def dataset_params(params: Mapping) -> dict:
    return validate(section(params, "dataset"), SCHEMA, "dataset")

