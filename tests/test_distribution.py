import json
import os
import subprocess
import sys

import pytest

from stages.lib.core.config import Distribution
from stages.lib.core.errors import ParamsError
from stages.lib.core.params import checked
from stages.lib.training.distribution import strategy_scope
from tests import REPO


def distribution(settings: dict) -> Distribution:
    return checked(Distribution, settings, "distribution")


def test_params_default_to_one_device_in_float32():
    assert distribution({"strategy": "none", "cpu_devices": 1}).model_dump() == {
        "strategy": "none",
        "cpu_devices": 1,
        "mixed_precision": False,
    }


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"strategy": "mirored", "cpu_devices": 1}, "did you mean 'mirrored'"),
        ({"strategy": "mirrored", "cpu_devices": 0}, "distribution.cpu_devices"),
        ({"strategy": "multi_worker", "cpu_devices": 1}, "keras-team/keras#20585"),
        (
            {"strategy": "none", "cpu_devices": 1, "mixed_precision": "yes"},
            "distribution.mixed_precision must be true or false, got 'yes'",
        ),
    ],
)
def test_bad_settings_are_refused_with_the_reason(settings, message):
    with pytest.raises(ParamsError, match=message.replace("(", r"\(")):
        distribution(settings)


def test_the_devices_are_logged_and_mixed_precision_needs_a_gpu(caplog):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("checks a machine without a GPU")
    settings = distribution({"strategy": "none", "cpu_devices": 1, "mixed_precision": False})
    with caplog.at_level("INFO", logger="stages.lib.training.distribution"):
        strategy_scope(settings)
    assert caplog.messages == [f"training on the CPU ({os.cpu_count()} cores, no GPU visible to TensorFlow)"]
    with pytest.raises(
        ParamsError, match="distribution.mixed_precision needs a GPU, and TensorFlow sees none"
    ):
        strategy_scope(settings.model_copy(update={"mixed_precision": True}))


# Trains a small MLP on 3,000 real digits under a strategy, in a fresh process (logical
# CPU devices can only be made before TensorFlow starts), and prints what it measured.
TRAIN = """
import json, logging, sys
from pathlib import Path
from stages.lib.core.cli import configure_tensorflow
configure_tensorflow()
import tensorflow as tf
from stages.lib.core.config import Distribution
from stages.lib.training.distribution import strategy_scope
from stages.lib.core.specs import validate_spec
from stages.lib.training.fitting import train
from tests.real_data import subset

logging.basicConfig(level=logging.INFO, format="%(message)s")
(x, y), (x_val, y_val) = subset(Path(sys.argv[2]), 3000, 1000)
spec = validate_spec({"family": "mlp", "hidden_units": [64], "dropout": 0.1, "optimizer": "adam",
                      "learning_rate": 0.002}, "spec")
with strategy_scope(Distribution(**json.loads(sys.argv[1]))):
    model, history = train(spec, (x / 255, y), (x_val / 255, y_val), epochs=3, batch_size=64, seed=0,
                           num_classes=10)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
print("RESULT", json.dumps({"replicas": replicas, "accuracy": history["val_accuracy"][-1]}))
"""


def trained_with(strategy: str, cpu_devices: int, dataset_folder) -> dict:
    settings = json.dumps({"strategy": strategy, "cpu_devices": cpu_devices, "mixed_precision": False})
    result = subprocess.run(
        [sys.executable, "-c", TRAIN, settings, str(dataset_folder)], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    return {**json.loads(line.removeprefix("RESULT ")), "log": result.stderr}


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices_learns_as_well_as_one_device(dataset_folder):
    plain = trained_with("none", 1, dataset_folder)
    mirrored = trained_with("mirrored", 2, dataset_folder)
    assert plain["replicas"] == 1 and mirrored["replicas"] == 2
    assert (
        "training on the CPU (" in plain["log"] and "training on 2 logical CPU devices (" in mirrored["log"]
    )
    print(plain["accuracy"], mirrored["accuracy"])
    assert plain["accuracy"] > 0.85
    # The same seeded stream, with each batch's gradient summed over two halves: the
    # same model up to floating-point order, so the same accuracy within noise.
    assert mirrored["accuracy"] == pytest.approx(plain["accuracy"], abs=0.02)
