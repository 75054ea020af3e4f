"""Saving and loading trained models (.keras files), ensembles of them, and which one is `final`."""

from pathlib import Path

from stages.lib.core.artifacts import atomic_path, read_json
from stages.lib.core.errors import DataError
from stages.lib.core.paths import AVERAGED_FINALISTS, FINAL_CHOICE, FINALISTS, model_path


def save_model(model, path: Path) -> None:
    with atomic_path(path) as temporary:
        model.save(temporary)


def load_model(path: Path):
    """A saved Keras model, loaded in safe mode (no arbitrary code from the file)."""
    import keras

    if not Path(path).exists():
        raise DataError(f"{path} not found: run `dvc repro` to produce it")
    return keras.models.load_model(path, safe_mode=True)


def load_trained(name: str):
    """A model of the run by name: a trained model's file (model_path), or for
    AVERAGED_FINALISTS the finalists' files averaged (no file of its own)."""
    if name == AVERAGED_FINALISTS:
        return averaged({f"{s}_final": load_model(model_path(f"{s}_final")) for s in FINALISTS}, name)
    return load_model(model_path(name))


def averaged(members: dict, name: str):
    """One Keras model (`name`) whose output is the average of the probabilities of
    `members` (name -> model, all taking the same input), each member keeping its name
    inside it: an ensemble that predict, serve and every export format use as any model."""
    import keras

    inputs = keras.Input(shape=next(iter(members.values())).input_shape[1:])
    outputs = []
    for member_name, model in members.items():
        model.name = member_name
        outputs.append(model(inputs))
    return keras.Model(inputs, keras.layers.Average(dtype="float32")(outputs), name=name)


def members(model) -> dict:
    """The models an averaged() model averages, by name ({} for any other model)."""
    import keras

    return {layer.name: layer for layer in model.layers if isinstance(layer, keras.Model)}


def right_answers(model, x, y):
    """Which of the images `x` (labels `y`) the Keras `model` classifies right (bool)."""
    return model.predict(x, batch_size=1024, verbose=0).argmax(axis=1) == y


def chosen_final() -> str:
    """The name of the model evaluate chose as `final` (it writes FINAL_CHOICE)."""
    if not FINAL_CHOICE.exists():
        raise DataError(f"{FINAL_CHOICE} not found: run `dvc repro` so that evaluate chooses the final model")
    return read_json(FINAL_CHOICE)["kept"]
