"""Model specs, the typed mappings params.yaml and best_config files describe models
with: one class per family (Mlp, Lenet, Cnn; `family` says which), each with its
hyperparameters and how it is trained: optimizer, learning rate and its schedule,
weight decay and input augmentation; and a spec's cost per image. stages.lib.training.models
builds them."""

import itertools
import math
from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field

from stages.lib.core.params import Strict, checked

PositiveInt = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)]
KernelSize = Annotated[int, Field(ge=1, le=9)]


class Augmentation(Strict):
    """One random affine transform per training image and epoch, drawn uniformly."""

    rotation: Annotated[float, Field(ge=0.0, lt=180.0)] = 0.0  # +- degrees
    shift: Annotated[float, Field(ge=0.0, lt=14.0)] = 0.0  # +- pixels, each axis
    scale: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0  # 1 +- this zoom factor

    @property
    def enabled(self) -> bool:
        return any((self.rotation, self.shift, self.scale))


class Training(Strict):
    """How a model spec is trained (models.build_model compiles it)."""

    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"]
    learning_rate: Annotated[float, Field(gt=0.0, lt=10.0)]
    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: decay to 0 over the run
    weight_decay: Fraction = 0.0  # decoupled (AdamW, or the other optimizers' weight_decay)
    augmentation: Augmentation = Augmentation()


class Mlp(Training):
    """Flatten, then Dense(units, relu) [+ Dropout] per hidden layer (notebook 000)."""

    family: Literal["mlp"]
    hidden_units: list[PositiveInt]
    dropout: Fraction


class Lenet(Training):
    """Two Conv(kernel_size, relu) + MaxPool(2) blocks, Dense(dense_units, relu) (notebook 003)."""

    family: Literal["lenet"]
    filters: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]
    kernel_size: KernelSize
    dense_units: PositiveInt


class Cnn(Training):
    """Blocks of unpadded Conv + BatchNorm + ReLU layers, each block ending in MaxPool(2);
    then Dense(dense_units) + BatchNorm + ReLU + Dropout."""

    family: Literal["cnn"]
    blocks: Annotated[list[Annotated[list[PositiveInt], Field(min_length=1)]], Field(min_length=1)]
    kernel_size: KernelSize
    dense_units: PositiveInt
    dropout: Fraction


ModelSpec = Annotated[Mlp | Lenet | Cnn, Field(discriminator="family")]
SPEC = pydantic.TypeAdapter(ModelSpec)


def validate_spec(value: Any, where: str) -> Mlp | Lenet | Cnn:
    """A model spec from a mapping (a best_config file, a test), checked."""
    return checked(SPEC, value, where)


def multiply_adds(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> int:
    """Multiply-adds per image of the spec's Dense and Conv layers (what a training
    epoch's time mostly grows with): the cost cv_search's budgets bound."""
    if spec.family == "mlp":
        sizes = [math.prod(input_shape), *spec.hidden_units, num_classes]
        return sum(a * b for a, b in itertools.pairwise(sizes))
    (height, width), channels, total, kernel = input_shape, 1, 0, spec.kernel_size
    blocks = [[filters] for filters in spec.filters] if spec.family == "lenet" else spec.blocks
    for block in blocks:
        for filters in block:
            height, width = height - kernel + 1, width - kernel + 1  # no padding
            total += height * width * kernel * kernel * channels * filters
            channels = filters
        height, width = height // 2, width // 2
    return total + height * width * channels * spec.dense_units + spec.dense_units * num_classes
