"""The one model-building path that every training stage shares.

A model spec is a mapping: `family` plus that family's hyperparameters, the optimizer
and the learning rate (see params.yaml). validate_spec checks it without importing
TensorFlow; build_model turns it into a compiled Keras model.
"""

from typing import Mapping

from stages.lib.errors import ParamsError
from stages.lib.params import integer, list_of, number, one_of, validate

OPTIMIZERS = ("adam", "rmsprop", "sgd")

TRAINING_SCHEMA = {
    "optimizer": one_of(*OPTIMIZERS),
    "learning_rate": number(above=0.0, below=10.0),
}

FAMILIES = {
    # Flatten, then Dense(units, relu) [+ Dropout] per hidden layer (notebook 000).
    "mlp": {
        "hidden_units": list_of(integer(minimum=1), min_length=0),
        "dropout": number(minimum=0.0, below=1.0),
    },
    # Two blocks of Conv(kernel_size, relu) + MaxPool(2), then Dense(dense_units, relu)
    # (notebook 003's LeNet-style CNN).
    "lenet": {
        "filters": list_of(integer(minimum=1), length=2),
        "kernel_size": integer(minimum=1, maximum=9),
        "dense_units": integer(minimum=1),
    },
}


def validate_spec(spec: Mapping, where: str) -> dict:
    """The spec, checked: a known family with exactly that family's keys."""
    if not isinstance(spec, Mapping) or "family" not in spec:
        raise ParamsError(f"{where} must be a mapping with a 'family' key (one of {', '.join(FAMILIES)})")
    family = one_of(*FAMILIES)(spec["family"], f"{where}.family")
    schema = {"family": lambda value, _: value, **FAMILIES[family], **TRAINING_SCHEMA}
    return validate(spec, schema, where)


def build_model(spec: Mapping, input_shape: tuple[int, ...], num_classes: int):
    """A compiled Keras model for a validated spec, taking images of `input_shape`."""
    import keras
    from keras import layers

    spec = dict(spec)
    stack = [keras.Input(shape=input_shape)]
    if spec["family"] == "mlp":
        stack.append(layers.Flatten())
        for units in spec["hidden_units"]:
            stack.append(layers.Dense(units, activation="relu"))
            if spec["dropout"] > 0:
                stack.append(layers.Dropout(spec["dropout"]))
    elif spec["family"] == "lenet":
        stack.append(layers.Reshape((*input_shape, 1)))
        for filters in spec["filters"]:
            stack.append(layers.Conv2D(filters, spec["kernel_size"], activation="relu"))
            stack.append(layers.MaxPooling2D(2))
        stack += [layers.Flatten(), layers.Dense(spec["dense_units"], activation="relu")]
    stack.append(layers.Dense(num_classes, activation="softmax"))

    model = keras.Sequential(stack, name=spec["family"])
    optimizer = {
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
    }[spec["optimizer"]](learning_rate=spec["learning_rate"])
    # Integer labels with sparse cross-entropy: the notebooks' one-hot labels with
    # categorical cross-entropy compute the same loss.
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
