"""What a cv_search trial tries: the space's base model spec with the values drawn for
its searched keys (see stages.lib.core.config.Space). Besides the spec's own keys, `depth`
and `width` set an mlp's hidden_units to [width] * depth, `filters_N` the filters of
every Conv layer of block N (lenet: its Nth Conv layer) and `augmentation`, a strength,
scales every bound of the base spec's augmentation (0: none, 1: the base bounds).
The base spec is the space's default, its first trial; layer sizes are drawn on
multiples of SIZE_STEP. A space's budget (max_train_final_minutes) bounds what its
largest model costs to train as train_final trains it, on the user's data: fit_budget
lowers the size ranges until it fits, so that no draw is thrown away.
"""

import hashlib
import json
import math
from typing import Mapping

from stages.lib.core.costs import REFERENCE_MACHINE, training_seconds
from stages.lib.core.errors import ParamsError
from stages.lib.core.params import checked
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


def check_space(name: str, space: Space) -> None:
    """A ParamsError unless the base spec is a point of the space (within every range,
    on the size grid) and every range's high makes a valid spec (an augmentation
    strength of 2 doubles every bound)."""
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
    try:
        configure(space.model, {key: bounds.high for key, bounds in space.search.items()}, where)
    except ParamsError as error:
        raise ParamsError(
            f"{error}: every range's `high` must give a valid model (search.augmentation's high scales "
            "every bound of the model's augmentation); lower that high, or the model's value"
        ) from None


FIT_STEPS = 64  # the factors fit_budget tries: 1, 63/64, ..., 0


def fit_budget(
    name: str,
    space: Space,
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    images: int,
    epochs: int,
    batch_size: int,
) -> tuple[Space, dict]:
    """The space with its ranges lowered until its largest model trains, as train_final
    trains it (on `images` images for `epochs` epochs at `batch_size`), within
    max_train_final_minutes by the cost table; and the budget as recorded. One rule:
    the sizes' headroom above the default (high - default) is scaled by one factor,
    the largest of 1, 63/64, ..., 0 that fits, each rounded down to the grid of
    SIZE_STEP; where the sizes at their defaults are still over, depth's likewise. A
    ParamsError, naming the minutes needed, where the default does not fit."""
    default = default_values(space)
    integers = [key for key in default if is_integer(key)]

    def minutes(values: dict) -> float:
        spec = configure(space.model, values, f"cv_search.spaces.{name}")
        seconds = training_seconds(
            spec, input_shape, num_classes, batch_size=batch_size, images=images, epochs=epochs
        )
        return seconds / 60

    budget = space.max_train_final_minutes
    if (needed := minutes(default)) > budget:
        needed = math.ceil(needed * 10) / 10
        raise ParamsError(
            f"cv_search.spaces.{name}: its default model alone would take about {needed:g} min of "
            f"train_final ({images:,} images x {epochs} epochs on the {REFERENCE_MACHINE}, "
            f"by stages/lib/core/costs.py), over max_train_final_minutes {budget:g}: raise "
            f"max_train_final_minutes to {needed:g} or more, or set a smaller dataset.image_size"
        )
    largest = {key: space.search[key].high for key in integers}
    sizes = [key for key in integers if is_size(key)]
    for group in (sizes, [key for key in integers if key not in sizes]):  # depth only if need be
        largest = fitted(group, largest, default, budget, minutes)
    changed = {key: high for key, high in largest.items() if high != space.search[key].high}
    search = {
        key: bounds.model_copy(update={"high": largest[key]}) if key in changed else bounds
        for key, bounds in space.search.items()
    }
    record = {
        "max_train_final_minutes": budget,
        "images": images,
        "epochs": epochs,
        "largest": largest,
        "largest_minutes": round(minutes(largest), 2),
        "lowered": {key: {"from": space.search[key].high, "to": high} for key, high in changed.items()},
    }
    return space.model_copy(update={"search": search}), record


def fitted(group: list[str], highs: dict, default: dict, budget: float, minutes) -> dict:
    """`highs` with the headroom of `group`'s keys scaled by the largest factor that
    fits the budget (all at their defaults if none does), on each key's grid."""
    for step in range(FIT_STEPS + 1):
        factor = 1 - step / FIT_STEPS
        values = dict(highs)
        for key in group:
            grid = SIZE_STEP if is_size(key) else 1
            values[key] = default[key] + grid * math.floor(factor * (highs[key] - default[key]) / grid)
        if minutes(values) <= budget:
            break
    return values


def fitted_space(name: str, space: Space, record: dict) -> Space:
    """The space as stage budget fitted it, or a ParamsError where that was to other params."""
    if checked(Space, record["params"], f"cv_search.spaces.{name}").model_dump() != space.model_dump():
        raise ParamsError(
            f"models/search_space/{name}.json was fitted to other cv_search.spaces.{name} params "
            "than params.yaml's: run `dvc repro budget` (or `dvc pull` what the stage wrote)"
        )
    return checked(Space, record["fitted"], f"cv_search.spaces.{name}")


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
