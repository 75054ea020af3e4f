"""What a cv_search trial tries: the space's base model spec with the values drawn for
its searched keys (see stages.lib.core.config.Space). Besides the spec's own keys, `depth`
and `width` set an mlp's hidden_units to [width] * depth, `filters_N` the filters of
every Conv layer of block N (lenet: its Nth Conv layer) and `augmentation`, a strength,
scales every bound of the base spec's augmentation (0: none, 1: the base bounds).
"""

import hashlib
import json
from typing import Mapping

from stages.lib.core.config import CvSearch, Space, is_integer
from stages.lib.core.specs import ModelSpec, validate_spec


def configure(base: ModelSpec, values: Mapping, where: str = "cv_search") -> ModelSpec:
    """The base spec with the searched `values` applied, checked."""
    spec = base.model_dump()
    for key, value in values.items():
        if key == "augmentation":
            spec[key] = {bound: amount * value for bound, amount in spec[key].items()}
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
    """One value per searched key, drawn by the trial's sampler."""
    values = {}
    for key, bounds in space.search.items():
        draw = trial.suggest_int if is_integer(key) else trial.suggest_float
        values[key] = draw(key, bounds.low, bounds.high, log=bounds.log)
    return values


def study_name(name: str, search: CvSearch, space: Space, seed: int, data_digest: str) -> str:
    """The space's name and a digest of everything that decides its trials: a changed
    space, budget, pruner, seed or data is a new study."""
    decided_by = {
        "batch_size": search.batch_size,
        "optuna": search.optuna.model_dump(),
        "space": space.model_dump(),
        "seed": seed,
        "data": data_digest,
    }
    digest = hashlib.sha256(json.dumps(decided_by, sort_keys=True).encode()).hexdigest()
    return f"{name}-{digest[:12]}"
