import numpy as np

from stages.lib.models import build_model

MLP = {"family": "mlp", "hidden_units": [64], "dropout": 0.0, "optimizer": "rmsprop", "learning_rate": 1e-3}
LENET = {"family": "lenet", "filters": [64, 128], "kernel_size": 5, "dense_units": 120,
         "optimizer": "adam", "learning_rate": 5e-4}


def layer_kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def test_notebook_000_baseline():
    model = build_model(MLP, (28, 28), 10)
    assert layer_kinds(model) == ["Flatten", "Dense", "Dense"]
    assert model.count_params() == 784 * 64 + 64 + 64 * 10 + 10
    assert type(model.optimizer).__name__ == "RMSprop"


def test_notebook_000_big_model_with_dropout():
    model = build_model({**MLP, "hidden_units": [256, 256], "dropout": 0.5}, (28, 28), 10)
    assert layer_kinds(model) == ["Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert model.count_params() == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10


def test_notebook_003_lenet():
    model = build_model(LENET, (28, 28), 10)
    assert layer_kinds(model) == [
        "Reshape", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"
    ]
    conv1 = 5 * 5 * 1 * 64 + 64
    conv2 = 5 * 5 * 64 * 128 + 128
    dense = 4 * 4 * 128 * 120 + 120
    assert model.count_params() == conv1 + conv2 + dense + 120 * 10 + 10
    assert float(model.optimizer.learning_rate) == np.float32(5e-4)


def test_outputs_are_class_probabilities():
    probabilities = build_model(LENET, (28, 28), 10).predict(np.zeros((3, 28, 28), np.float32), verbose=0)
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
