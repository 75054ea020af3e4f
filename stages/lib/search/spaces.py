"""What a cv_search trial tries: the space's base model spec with the values drawn for
its searched keys (see stages.lib.core.config.Space). Besides the spec's own keys, `depth`
and `width` set an mlp's hidden_units to [width] * depth, `filters_N` the filters of
every Conv layer of block N (lenet: its Nth Conv layer) and `augmentation`, a strength,
scales every bound of the base spec's augmentation (0: none, 1: the base bounds).
The base spec is the space's default, its first trial; layer sizes are drawn on
multiples of SIZE_STEP, and the space's most expensive model must fit its cost bound,
so that no draw is thrown away.
"""

import hashlib
import json
from typing import Mapping

from stages.lib.core.costs import REFERENCE_MACHINE, microseconds_per_image
from stages.lib.core.errors import ParamsError
from stages.lib.core.search_config import SIZE_STEP, CvSearch, Space, is_integer, is_size
from stages.lib.core.specs import ModelSpec, validate_spec


def configure(base: ModelSpec, values: Mapping, where: str = "cv_search") -> ModelSpec:
    """The base spec with the searched `values` applied, checked."""
    spec = base.model_dump()
    for key, value in values.items():
        if key == "augmentation":
            spec[key] = base.augmentation.scaled(value).model_dump()
        elif key.startswith("filters_"):
            block = int(key.removeprefix("filters_")) - 1
            if spec["family"] == "lenet":
                spec["filters"][block] = value
            else:
                spec["blocks"][block] = [value] * len(spec["blocks"][block])
        elif key not in ("depth", "width"):
            spec[key] = value
    if spec["family"] == "mlp" and ("depth" in values or "width" in values):
        hidden = base.hidden_units
        spec["hidden_units"] = [values.get("width", hidden[0] if hidden else 1)] * values.get(
            "depth", len(hidden)
        )
    return validate_spec(spec, f"{where} {dict(values)}")


def suggest(trial, space: Space) -> dict:
    """One value per searched key, drawn by the trial's sampler (sizes on multiples
    of SIZE_STEP)."""
    values = {}
    for key, bounds in space.search.items():
        if is_size(key):
            values[key] = trial.suggest_int(key, bounds.low, bounds.high, step=SIZE_STEP)
        elif is_integer(key):
            values[key] = trial.suggest_int(key, bounds.low, bounds.high, log=bounds.log)
        else:
            values[key] = trial.suggest_float(key, bounds.low, bounds.high, log=bounds.log)
    return values


def default_values(space: Space) -> dict:
    """The searched keys' values that give the base spec (the study's first trial)."""
    base = space.model
    values = {}
    for key in space.search:
        if key == "augmentation":
            values[key] = 1.0
        elif key == "depth":
            values[key] = len(base.hidden_units)
        elif key == "width":
            values[key] = base.hidden_units[0]
        elif key.startswith("filters_"):
            block = int(key.removeprefix("filters_")) - 1
            values[key] = base.filters[block] if base.family == "lenet" else base.blocks[block][0]
        else:
            values[key] = getattr(base, key)
    return values


def check_space(name: str, space: Space, input_shape: tuple[int, ...], num_classes: int) -> None:
    """A ParamsError unless the base spec is a point of the space (within every range,
    on the size grid) and the space's most expensive model fits max_microseconds_per_image."""
    where = f"cv_search.spaces.{name}"
    default = default_values(space)
    for key, value in default.items():
        bounds = space.search[key]
        off_grid = is_size(key) and (value - bounds.low) % SIZE_STEP
        if not bounds.low <= value <= bounds.high or off_grid:
            raise ParamsError(
                f"{where}.model: the default's {key} {value} is not a point of search.{key} "
                f"({bounds.low} to {bounds.high}{f', multiples of {SIZE_STEP}' if is_size(key) else ''}): "
                "the default is the study's first trial; change the model or the range"
            )
    if configure(space.model, default, where).model_dump() != space.model.model_dump():
        raise ParamsError(
            f"{where}.model: hidden_units must all be the same size, as depth x width gives them"
        )
    largest = {key: space.search[key].high for key in default if is_integer(key)}
    cost = microseconds_per_image(
        configure(space.model, largest, where), input_shape, num_classes, space.batch_size
    )
    if cost > space.max_microseconds_per_image:
        sizes = ", ".join(f"{key} {value}" for key, value in largest.items())
        raise ParamsError(
            f"{where}: its largest model ({sizes}) would train at about {cost:.0f} microseconds per "
            f"image on the {REFERENCE_MACHINE} (stages/lib/core/costs.py), over max_microseconds_per_image "
            f"{space.max_microseconds_per_image:g}: lower a size's `high` or raise the bound"
        )


def study_name(name: str, search: CvSearch, space: Space, seed: int, data_digest: str) -> str:
    """The space's name and a digest of everything that decides its trials: a changed
    space, budget, pruner, seed or data is a new study."""
    decided_by = {
        "optuna": search.optuna.model_dump(),
        "space": space.model_dump(),
        "seed": seed,
        "data": data_digest,
    }
    digest = hashlib.sha256(json.dumps(decided_by, sort_keys=True).encode()).hexdigest()
    return f"{name}-{digest[:12]}"
