"""Saving and loading trained models (.keras files), and which one is `final`."""

from pathlib import Path

from stages.lib.core.artifacts import atomic_path, read_json
from stages.lib.core.errors import DataError
from stages.lib.core.paths import FINAL_CHOICE


def save_model(model, path: Path) -> None:
    with atomic_path(path) as temporary:
        model.save(temporary)


def load_model(path: Path):
    """A saved Keras model, loaded in safe mode (no arbitrary code from the file)."""
    import keras

    if not Path(path).exists():
        raise DataError(f"{path} not found: run `dvc repro` to produce it")
    return keras.models.load_model(path, safe_mode=True)


def right_answers(model, x, y):
    """Which of the images `x` (labels `y`) the Keras `model` classifies right (bool)."""
    return model.predict(x, batch_size=1024, verbose=0).argmax(axis=1) == y


def chosen_final() -> str:
    """The name of the model evaluate chose as `final` (it writes FINAL_CHOICE)."""
    if not FINAL_CHOICE.exists():
        raise DataError(f"{FINAL_CHOICE} not found: run `dvc repro` so that evaluate chooses the final model")
    return read_json(FINAL_CHOICE)["kept"]
