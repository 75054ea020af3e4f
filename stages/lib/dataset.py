"""The dataset section of params.yaml: its name, class names, mirrors and files."""

import re
from pathlib import Path
from typing import Mapping

from stages.lib.errors import ParamsError
from stages.lib.params import boolean, list_of, section, text, validate

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


def class_names(value, where):
    """The name of each label, in label order: 2 to 256 distinct names (IDX labels
    are single bytes)."""
    names = list_of(lambda name, at: text(str(name) if isinstance(name, int) else name, at), min_length=2)(value, where)
    if len(names) > 256:
        raise ParamsError(f"{where} must name at most 256 classes (IDX labels are single bytes), got {len(names)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ParamsError(f"{where} must name each class once; repeated: {', '.join(repeated)}")
    return names


SCHEMA = {
    "name": text,
    "classes": class_names,
    "transpose": boolean,
    "mirrors": list_of(text, min_length=0),
    "files": lambda value, where: validate(value, dict.fromkeys(FILE_ROLES, file_entry), where),
}


def dataset_params(params: Mapping) -> dict:
    """The checked section, with `num_classes`: how many classes it names."""
    dataset = validate(section(params, "dataset"), SCHEMA, "dataset")
    return {**dataset, "num_classes": len(dataset["classes"])}

