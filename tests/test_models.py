import numpy as np
import pytest

from stages.lib.core.errors import ParamsError
from stages.lib.core.specs import validate_spec
from stages.lib.training.models import build_model

MLP = {"family": "mlp", "hidden_units": [64], "dropout": 0.0, "optimizer": "rmsprop", "learning_rate": 1e-3}
LENET = {
    "family": "lenet",
    "filters": [64, 128],
    "kernel_size": 5,
    "dense_units": 120,
    "optimizer": "adam",
    "learning_rate": 5e-4,
}


def layer_kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def test_notebook_000_baseline():
    model = build_model(validate_spec(MLP, "m"), (28, 28), 10)
    assert layer_kinds(model) == ["Flatten", "Dense", "Dense"]
    assert model.count_params() == 784 * 64 + 64 + 64 * 10 + 10
    assert type(model.optimizer).__name__ == "RMSprop"


def test_notebook_000_big_model_with_dropout():
    model = build_model(validate_spec({**MLP, "hidden_units": [256, 256], "dropout": 0.5}, "m"), (28, 28), 10)
    assert layer_kinds(model) == ["Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert model.count_params() == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10


def test_notebook_003_lenet():
    model = build_model(validate_spec(LENET, "m"), (28, 28), 10)
    assert layer_kinds(model) == [
        "Reshape",
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "Dense",
    ]
    conv1 = 5 * 5 * 1 * 64 + 64
    conv2 = 5 * 5 * 64 * 128 + 128
    dense = 4 * 4 * 128 * 120 + 120
    assert model.count_params() == conv1 + conv2 + dense + 120 * 10 + 10
    assert float(model.optimizer.learning_rate) == np.float32(5e-4)


def test_outputs_are_class_probabilities():
    probabilities = build_model(validate_spec(LENET, "m"), (28, 28), 10).predict(
        np.zeros((3, 28, 28), np.float32), verbose=0
    )
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


CNN = {
    "family": "cnn",
    "blocks": [[8], [16, 16]],
    "kernel_size": 3,
    "dense_units": 32,
    "dropout": 0.25,
    "optimizer": "adamw",
    "learning_rate": 2e-3,
    "weight_decay": 1e-4,
    "lr_schedule": "cosine",
}


def test_cnn_blocks_with_batch_normalization():
    model = build_model(validate_spec(CNN, "cnn"), (28, 28), 10, total_steps=100)
    conv = ["Conv2D", "BatchNormalization", "ReLU"]
    assert layer_kinds(model) == [
        "Reshape",
        *conv,
        "MaxPooling2D",
        *conv,
        *conv,
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "BatchNormalization",
        "ReLU",
        "Dropout",
        "Dense",
    ]
    # 28 -> 26 -> pool 13 -> 11 -> 9 -> pool 4: 4 * 4 * 16 features into the Dense layer.
    assert model.layers[-5].kernel.shape == (4 * 4 * 16, 32)
    assert type(model.optimizer).__name__ == "AdamW"
    assert float(model.optimizer.weight_decay) == np.float32(1e-4)


def test_cosine_schedule_decays_to_zero_over_the_run():
    model = build_model(validate_spec(CNN, "cnn"), (28, 28), 10, total_steps=100)
    schedule = model.optimizer._learning_rate  # the schedule itself; .learning_rate is its current value
    assert float(schedule(0)) == np.float32(2e-3)
    assert float(schedule(50)) == pytest.approx(1e-3, rel=1e-5)
    assert float(schedule(100)) == 0.0


def test_training_keys_are_optional_with_stated_defaults():
    spec = validate_spec(MLP, "train_baseline.model")
    assert spec.lr_schedule == "constant" and spec.weight_decay == 0.0
    for optimizer in ("adam", "adamw", "rmsprop", "sgd"):  # no decay by default, whichever the optimizer
        model = build_model(validate_spec({**MLP, "optimizer": optimizer}, "m"), (28, 28), 10)
        assert not model.optimizer.weight_decay
    assert spec.augmentation.model_dump() == {
        "rotation": 0.0,
        "shift": 0.0,
        "scale": 0.0,
        "elastic": 0.0,
        "elastic_sigma": 4.0,
        "flip": False,
        "brightness": 0.0,
        "contrast": 0.0,
    }
    assert not spec.augmentation.enabled
    assert (spec.warmup, spec.label_smoothing, spec.ema) == (0.0, 0.0, 0.0)
    with pytest.raises(ParamsError, match=r"model.augmentation.shift must be < 14.0, got 20"):
        validate_spec({**MLP, "augmentation": {"rotation": 5, "shift": 20, "scale": 0}}, "model")
    with pytest.raises(
        ParamsError,
        match=r"model.lr_schedule must be one of 'constant', 'cosine', got 'cosin' "
        r"\(did you mean 'cosine'\?\)",
    ):
        validate_spec({**MLP, "lr_schedule": "cosin"}, "model")


def test_warmup_rises_linearly_then_decays_by_cosine():
    model = build_model(validate_spec({**CNN, "warmup": 0.2}, "cnn"), (28, 28), 10, total_steps=100)
    schedule = model.optimizer._learning_rate
    assert float(schedule(0)) == 0.0 and float(schedule(10)) == pytest.approx(1e-3, rel=1e-5)
    assert float(schedule(20)) == pytest.approx(2e-3, rel=1e-5)  # the peak, then cosine over 80 steps
    assert float(schedule(60)) == pytest.approx(1e-3, rel=1e-5) and float(schedule(100)) == 0.0
    with pytest.raises(ParamsError, match=r"model.warmup needs lr_schedule cosine, got constant"):
        validate_spec({**MLP, "warmup": 0.1}, "model")


def test_label_smoothing_and_weight_averaging_reach_the_loss_and_the_optimizer():
    model = build_model(validate_spec({**MLP, "label_smoothing": 0.1, "ema": 0.9}, "m"), (28, 28), 10)
    assert model.loss.get_config()["label_smoothing"] == 0.1
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == 0.9
    plain = build_model(validate_spec(MLP, "m"), (28, 28), 10)
    assert plain.loss.get_config()["label_smoothing"] == 0.0 and not plain.optimizer.use_ema
