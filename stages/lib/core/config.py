"""The typed model of params.yaml (see its comments for what each key does): every
stage reads its sections from load_params(), checked before any heavy work."""

from pathlib import Path
from typing import Annotated, Literal

import pydantic
from pydantic import Field

from stages.lib.core.dataset import Dataset
from stages.lib.core.params import Strict, checked, problem, read_yaml
from stages.lib.core.specs import ModelSpec

PARAMS_FILE = Path("params.yaml")

PositiveInt = Annotated[int, Field(ge=1)]


class Split(Strict):
    validation_size: PositiveInt
    holdout_size: PositiveInt
    method: Literal["last", "stratified"]


class Distribution(Strict):
    strategy: Literal["none", "mirrored", "multi_worker"]
    cpu_devices: PositiveInt
    mixed_precision: bool = False

    @pydantic.field_validator("strategy")
    @classmethod
    def _usable(cls, value: str) -> str:
        if value == "multi_worker":
            raise problem(
                "",
                " multi_worker is not usable with Keras 3: Model.fit under "
                "tf.distribute.MultiWorkerMirroredStrategy fails in its first step ('Attempt to convert "
                "a value (PerReplica ...)', keras-team/keras#20585; seen here with two workers on 127.0.0.1 "
                "configured by TF_CONFIG). Use mirrored (every GPU of one machine) or none",
            )
        return value


class TrainSection(Strict):
    model: ModelSpec
    epochs: PositiveInt
    batch_size: PositiveInt


class FinalSection(Strict):
    epochs: PositiveInt
    batch_size: PositiveInt


class TrainFinal(Strict):  # one per stages.lib.core.paths.FINALISTS
    mlp: FinalSection
    cnn: FinalSection


# Searchable keys: the spec's own, and depth/width (mlp: hidden_units = [width] * depth),
# filters_N (the filters of block N) and augmentation (a strength scaling its bounds).
SEARCHABLE = {
    "mlp": ("depth", "width", "dropout"),
    "cnn": ("dense_units", "dropout"),
    "lenet": ("dense_units",),
}
TRAINING_KEYS = ("learning_rate", "weight_decay", "augmentation")
INTEGER_KEYS = ("depth", "width", "dense_units")  # and filters_N


def searchable(spec) -> tuple[str, ...]:
    blocks = len(spec.filters) if spec.family == "lenet" else len(getattr(spec, "blocks", ()))
    return (*SEARCHABLE[spec.family], *(f"filters_{n}" for n in range(1, blocks + 1)), *TRAINING_KEYS)


def is_integer(key: str) -> bool:
    return key in INTEGER_KEYS or key.startswith("filters_")


class Range(Strict):
    low: Annotated[int | float, Field(ge=0)]
    high: Annotated[int | float, Field(ge=0)]
    log: bool = False

    @pydantic.model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise problem("", f": low ({self.low}) must be < high ({self.high})")
        if self.log and self.low <= 0:
            raise problem("", f": a log range needs low > 0, got {self.low}")
        return self


class Space(Strict):
    n_trials: PositiveInt
    epochs: PositiveInt
    train_images: PositiveInt
    max_multiply_adds: PositiveInt
    model: ModelSpec
    search: dict[str, Range] | None = None
    grid: dict[str, Annotated[list, Field(min_length=1)]] | None = None

    @pydantic.model_validator(mode="after")
    def _searchable(self):
        keys = searchable(self.model)
        for kind in ("search", "grid"):
            for key, values in (getattr(self, kind) or {}).items():
                if key not in keys:
                    raise problem(
                        f".{kind}.{key}",
                        f" is not searchable in this space; searchable keys: {', '.join(keys)}",
                    )
                for bound in ("low", "high") if kind == "search" and is_integer(key) else ():
                    if not isinstance(getattr(values, bound), int):
                        raise problem(
                            f".{kind}.{key}.{bound}", f" must be an integer, got {getattr(values, bound)!r}"
                        )
        return self


class Pruner(Strict):
    min_epochs: PositiveInt
    reduction_factor: Annotated[int, Field(ge=2)]


class Optuna(Strict):
    startup_trials: PositiveInt
    pruner: Pruner


class GridCv(Strict):
    folds: Annotated[int, Field(ge=2)]
    epochs: PositiveInt
    early_stopping_patience: PositiveInt


class Spaces(Strict):  # one per stages.lib.core.paths.FINALISTS
    mlp: Space
    cnn: Space


class CvSearch(Strict):
    method: Literal["optuna", "grid_cv"]
    batch_size: PositiveInt
    storage: str | None  # a database URL, or null: each stage's own SQLite file
    optuna: Optuna
    grid_cv: GridCv
    spaces: Spaces

    @pydantic.field_validator("storage")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise problem(
                "",
                f" must be null or a database URL such as postgresql://user:password@host/database, "
                f"got {value!r}",
            )
        return value

    @pydantic.model_validator(mode="after")
    def _method_has_its_ranges(self):
        needed = "search" if self.method == "optuna" else "grid"
        for name in Spaces.model_fields:
            if getattr(getattr(self.spaces, name), needed) is None:
                raise problem(f".spaces.{name}.{needed}", f" is missing: method {self.method} needs it")
        return self


class Params(Strict):
    seed: Annotated[int, Field(ge=0)]
    dataset: Dataset
    split: Split
    distribution: Distribution
    train_baseline: TrainSection
    train_big: TrainSection
    cv_search: CvSearch
    train_final: TrainFinal


def load_params(path: Path = PARAMS_FILE) -> Params:
    """The whole params file, checked."""
    return checked(Params, read_yaml(path), "")
