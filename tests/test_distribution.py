import json
import subprocess
import sys

import pytest

from stages.lib.distribution import distribution_params
from stages.lib.errors import ParamsError
from tests.idx_files import REPO


def test_params_default_to_one_device():
    assert distribution_params({"distribution": {"strategy": "none", "cpu_devices": 1}}) == {
        "strategy": "none", "cpu_devices": 1}


@pytest.mark.parametrize("settings, message", [
    ({"strategy": "mirored", "cpu_devices": 1}, "did you mean 'mirrored'"),
    ({"strategy": "mirrored", "cpu_devices": 0}, "distribution.cpu_devices"),
    ({"strategy": "multi_worker", "cpu_devices": 1}, "keras-team/keras#20585"),
])
def test_bad_settings_are_refused_with_the_reason(settings, message):
    with pytest.raises(ParamsError, match=message.replace("(", r"\(")):
        distribution_params({"distribution": settings})


# Trains a small MLP on 3,000 real digits under a strategy, in a fresh process (logical
# CPU devices can only be made before TensorFlow starts), and prints what it measured.
TRAIN = """
import json, sys
from stages.lib.cli import configure_tensorflow
configure_tensorflow()
import tensorflow as tf
from stages.lib.distribution import strategy_scope
from stages.lib.models import validate_spec
from stages.lib.training import train
from tests.idx_files import mnist_subset

(x, y), (x_val, y_val) = mnist_subset(3000, 1000)
spec = validate_spec({"family": "mlp", "hidden_units": [64], "dropout": 0.1, "optimizer": "adam",
                      "learning_rate": 0.002}, "spec")
with strategy_scope(json.loads(sys.argv[1])):
    model, history = train(spec, (x / 255, y), (x_val / 255, y_val), epochs=3, batch_size=64, seed=0,
                           num_classes=10)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
print("RESULT", json.dumps({"replicas": replicas, "accuracy": history["val_accuracy"][-1]}))
"""


def trained_with(strategy: str, cpu_devices: int) -> dict:
    settings = json.dumps({"strategy": strategy, "cpu_devices": cpu_devices})
    result = subprocess.run([sys.executable, "-c", TRAIN, settings], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


def test_mirrored_over_two_cpu_devices_learns_as_well_as_one_device():
    plain = trained_with("none", 1)
    mirrored = trained_with("mirrored", 2)
    assert plain["replicas"] == 1 and mirrored["replicas"] == 2
    print(plain, mirrored)
    assert plain["accuracy"] > 0.85
    # The same seeded stream, with each batch's gradient summed over two halves: the
    # same model up to floating-point order, so the same accuracy within noise.
    assert mirrored["accuracy"] == pytest.approx(plain["accuracy"], abs=0.02)
