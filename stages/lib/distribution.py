"""The tf.distribute strategy the training stages build and fit their models under,
chosen by params.yaml's `distribution` section:

- none: TensorFlow's default, one device (the code path of every run so far);
- mirrored: synchronous data parallelism over this machine's GPUs, or, with no GPU,
  over `cpu_devices` logical CPU devices (to try the path on a laptop or CI);
- multi_worker: tf.distribute.MultiWorkerMirroredStrategy over several machines, each
  with its own TF_CONFIG. Refused with an explanation: Keras 3's Model.fit does not
  work under it (keras-team/keras#20585).

Batch sizes stay global: each of N replicas computes 1/N of every batch.
"""

from contextlib import AbstractContextManager, nullcontext
from typing import Mapping

from stages.lib.errors import ParamsError
from stages.lib.params import integer, one_of, section, validate

STRATEGIES = ("none", "mirrored", "multi_worker")


def distribution_params(params: Mapping) -> dict:
    settings = validate(section(params, "distribution"), {
        "strategy": one_of(*STRATEGIES),
        "cpu_devices": integer(minimum=1),
    }, "distribution")
    if settings["strategy"] == "multi_worker":
        raise ParamsError(
            "distribution.strategy multi_worker is not usable with Keras 3: Model.fit under "
            "tf.distribute.MultiWorkerMirroredStrategy fails in its first step ('Attempt to convert a value "
            "(PerReplica ...)', keras-team/keras#20585; seen here with two workers on 127.0.0.1 configured by "
            "TF_CONFIG). Use mirrored (every GPU of one machine) or none")
    return settings


def strategy_scope(settings: Mapping) -> AbstractContextManager:
    """A context to build and fit models in, for distribution_params' settings. Call
    before TensorFlow runs anything (the CPU can be split into logical devices only
    then)."""
    if settings["strategy"] == "none":
        return nullcontext()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and settings["cpu_devices"] > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * settings["cpu_devices"])
    devices = [device.name for device in tf.config.list_logical_devices("GPU" if gpus else "CPU")]
    return tf.distribute.MirroredStrategy(devices).scope()
