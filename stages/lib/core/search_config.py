"""The typed model of params.yaml's cv_search section (see its comments for what each
key does): the search method, the studies' settings and one search space per finalist."""

from typing import Annotated, Literal

import pydantic
from pydantic import Field

from stages.lib.core.params import CountOrFraction, Strict, problem
from stages.lib.core.specs import ModelSpec

PositiveInt = Annotated[int, Field(ge=1)]

# Searchable keys: the spec's own, and depth/width (mlp: hidden_units = [width] * depth),
# filters_N (the filters of block N) and augmentation (a strength scaling its bounds).
SEARCHABLE = {
    "mlp": ("depth", "width", "dropout"),
    "cnn": ("dense_units", "dropout"),
    "lenet": ("dense_units",),
}
TRAINING_KEYS = ("learning_rate", "weight_decay", "augmentation")
INTEGER_KEYS = ("depth", "width", "dense_units")  # and filters_N
# Layer sizes are drawn on multiples of SIZE_STEP: oneDNN computes channels in blocks of
# 8, so 19 filters cost what 24 do (docs/measurements.md).
SIZE_KEYS, SIZE_STEP = ("width", "dense_units"), 8  # and filters_N


def searchable(spec) -> tuple[str, ...]:
    blocks = len(spec.filters) if spec.family == "lenet" else len(getattr(spec, "blocks", ()))
    return (*SEARCHABLE[spec.family], *(f"filters_{n}" for n in range(1, blocks + 1)), *TRAINING_KEYS)


def is_integer(key: str) -> bool:
    return key in INTEGER_KEYS or key.startswith("filters_")


def is_size(key: str) -> bool:
    return key in SIZE_KEYS or key.startswith("filters_")


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
    train_images: CountOrFraction  # a fraction: of the search images
    batch_size: PositiveInt
    max_train_final_minutes: Annotated[float, Field(gt=0)]  # what its largest model may cost
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
                    value = getattr(values, bound)
                    if not isinstance(value, int):
                        raise problem(f".{kind}.{key}.{bound}", f" must be an integer, got {value!r}")
                    if is_size(key) and value % SIZE_STEP:
                        raise problem(
                            f".{kind}.{key}.{bound}",
                            f" must be a multiple of {SIZE_STEP} (sizes are drawn on that grid), got {value}",
                        )
                if kind == "search" and is_size(key) and values.log:
                    raise problem(
                        f".{kind}.{key}.log",
                        f" must be false: sizes are drawn uniformly on multiples of {SIZE_STEP} "
                        "(Optuna's suggest_int cannot combine a step with log)",
                    )
        return self


class Pruner(Strict):
    min_epochs: PositiveInt
    reduction_factor: Annotated[int, Field(ge=2)]


class Optuna(Strict):
    sampler: Literal["qmc", "tpe"]
    startup_trials: PositiveInt  # tpe only
    pruner: Pruner | None  # null: every trial trains its space's epochs


class GridCv(Strict):
    folds: Annotated[int, Field(ge=2)]
    epochs: PositiveInt
    early_stopping_patience: PositiveInt


class Spaces(Strict):  # one per stages.lib.core.paths.FINALISTS
    mlp: Space
    cnn: Space


class CvSearch(Strict):
    method: Literal["optuna", "grid_cv"]
    storage: str | None  # a database URL, or null: each stage's own SQLite file
    worker_timeout: PositiveInt  # seconds without a heartbeat before a trial is failed and rerun
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
