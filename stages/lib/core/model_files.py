"""Saving and loading trained models (.keras files)."""

from pathlib import Path

from stages.lib.core.artifacts import atomic_path
from stages.lib.core.errors import DataError


def save_model(model, path: Path) -> None:
    with atomic_path(path) as temporary:
        model.save(temporary)


def load_model(path: Path):
    """A saved Keras model, loaded in safe mode (no arbitrary code from the file)."""
    import keras

    if not Path(path).exists():
        raise DataError(f"{path} not found: run `dvc repro` to produce it")
    return keras.models.load_model(path, safe_mode=True)
