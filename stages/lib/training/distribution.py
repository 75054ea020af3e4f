"""The devices the training stages build and fit their models on, chosen by
params.yaml's `distribution` section.

`strategy`:
- none: TensorFlow's default, one device (its first GPU if it has one, else the CPU);
- mirrored: synchronous data parallelism over every GPU of this machine, or, with no
  GPU, over `cpu_devices` logical CPU devices (to try the path on a laptop or CI);
- multi_worker: tf.distribute.MultiWorkerMirroredStrategy over several machines, each
  with its own TF_CONFIG. Refused with an explanation: Keras 3's Model.fit does not
  work under it (keras-team/keras#20585).

Batch sizes stay global: each of N replicas computes 1/N of every batch.

`mixed_precision`: compute in float16 with float32 weights (Keras' mixed_float16
policy) on a GPU; refused on a CPU, where float16 is slower, not faster.
"""

import logging
import os
from contextlib import AbstractContextManager, nullcontext

from stages.lib.core.config import Distribution
from stages.lib.core.errors import ParamsError

log = logging.getLogger(__name__)


def strategy_scope(settings: Distribution) -> AbstractContextManager:
    """A context to build and fit models in, for params' distribution section; logs
    the devices it trains on. Call before TensorFlow runs anything (the CPU can be
    split into logical devices only then)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if settings.mixed_precision:
        if not gpus:
            raise ParamsError(
                "distribution.mixed_precision needs a GPU, and TensorFlow sees none here (float16 "
                "on a CPU is slower than float32): set it to false, or install the GPU build "
                "(make setup GPU=1)"
            )
        import keras

        keras.mixed_precision.set_global_policy("mixed_float16")
    if settings.strategy == "mirrored" and not gpus and settings.cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * settings.cpu_devices
        )
    log.info(
        "training on %s%s",
        describe_devices(gpus, settings),
        ", mixed precision (float16)" if settings.mixed_precision else "",
    )
    if settings.strategy == "none":
        return nullcontext()
    devices = [device.name for device in tf.config.list_logical_devices("GPU" if gpus else "CPU")]
    return tf.distribute.MirroredStrategy(devices).scope()


def describe_devices(gpus: list, settings: Distribution) -> str:
    """The devices a strategy trains on, in words: each GPU by name, or the CPU."""
    import tensorflow as tf

    if gpus:
        used = gpus if settings.strategy == "mirrored" else gpus[:1]
        names = [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in used]
        return ", ".join(f"GPU {index} ({name})" for index, name in enumerate(names))
    replicas = settings.cpu_devices if settings.strategy == "mirrored" else 1
    where = f"{replicas} logical CPU devices" if replicas > 1 else "the CPU"
    return f"{where} ({os.cpu_count()} cores, no GPU visible to TensorFlow)"
