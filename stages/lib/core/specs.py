"""Model specs, the typed mappings params.yaml and best_config files describe models
with: one class per family (Mlp, Lenet, Cnn; `family` says which), each with its
hyperparameters and how it is trained: optimizer, learning rate and its schedule,
weight decay, label smoothing, weight averaging and input augmentation.
stages.lib.training.models builds them; costs.py says what one costs to train."""

from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field

from stages.lib.core.params import Strict, checked, problem

PositiveInt = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)]
KernelSize = Annotated[int, Field(ge=1, le=9)]


class Augmentation(Strict):
    """One random distortion per training image and epoch: an affine transform drawn
    uniformly within the bounds, plus an elastic one (Simard et al. 2003: a field of
    random displacements, smoothed by a Gaussian of `elastic_sigma` pixels and scaled
    by `elastic`); then, for photos, a horizontal flip of every other image on average
    and a brightness and contrast jitter."""

    rotation: Annotated[float, Field(ge=0.0, lt=180.0)] = 0.0  # +- degrees
    shift: Annotated[float, Field(ge=0.0, lt=14.0)] = 0.0  # +- pixels, each axis
    scale: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0  # 1 +- this zoom factor
    elastic: Annotated[float, Field(ge=0.0, lt=100.0)] = 0.0  # alpha; 0: none
    elastic_sigma: Annotated[float, Field(ge=0.5, le=10.0)] = 4.0
    flip: bool = False  # mirror left-right with probability 1/2 (not for digits: a flipped 7 is no 7)
    brightness: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0  # +- this added to every pixel
    contrast: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0  # 1 +- this factor about the mean

    @property
    def affine(self) -> bool:
        return any((self.rotation, self.shift, self.scale, self.elastic))

    @property
    def photometric(self) -> bool:
        return any((self.flip, self.brightness, self.contrast))

    @property
    def enabled(self) -> bool:
        return self.affine or self.photometric

    def scaled(self, strength: float) -> "Augmentation":
        """Every bound times `strength` (the field's smoothness stays; the flip stays
        unless strength is 0)."""
        bounds = {key: value * strength for key, value in self if key not in ("elastic_sigma", "flip")}
        return self.model_copy(update={**bounds, "flip": self.flip and strength > 0})


class Training(Strict):
    """How a model spec is trained (models.build_model compiles it)."""

    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"]
    learning_rate: Annotated[float, Field(gt=0.0, lt=10.0)]
    lr_schedule: Literal["constant", "cosine"] = "constant"  # cosine: decay to 0 over the run
    weight_decay: Fraction = 0.0  # decoupled (AdamW, or the other optimizers' weight_decay)
    warmup: Fraction = 0.0  # cosine only: the share of the run's updates rising linearly from 0
    label_smoothing: Fraction = 0.0
    ema: Fraction = 0.0  # momentum of a moving average of the weights, kept after training; 0: none
    augmentation: Augmentation = Augmentation()

    @pydantic.model_validator(mode="after")
    def _warmup_needs_cosine(self):
        if self.warmup and self.lr_schedule != "cosine":
            raise problem(".warmup", f" needs lr_schedule cosine, got {self.lr_schedule}")
        return self


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
