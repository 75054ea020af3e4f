"""cv_search's settings and search spaces, checked before any training.

A search space is a base model spec plus, per hyperparameter searched, a range
(`search`, for method optuna) or a list of values (`grid`, for method grid_cv). The
searchable keys are the spec's own (learning_rate, weight_decay, dropout, dense_units)
and four that stand for several spec keys at once: `depth` and `width` (mlp:
hidden_units = [width] * depth), `filters_N` (the filters of every Conv layer of block
N; lenet: its Nth Conv layer) and `augmentation`, a strength that scales every bound of
the base spec's augmentation (0: none, 1: the base bounds).
"""

import copy
import hashlib
import json
from typing import Mapping

from stages.lib.errors import ParamsError
from stages.lib.models import validate_spec
from stages.lib.params import boolean, integer, list_of, number, one_of, optional, section, validate

METHODS = ("optuna", "grid_cv")
INTEGER_KEYS = ("depth", "width", "dense_units")  # and filters_N
SEARCHABLE = {
    "mlp": ("depth", "width", "dropout"),
    "cnn": ("dense_units", "dropout"),
    "lenet": ("dense_units",),
}
TRAINING_KEYS = ("learning_rate", "weight_decay", "augmentation")

def database_url(value, where):
    if value is None or isinstance(value, str) and "://" in value:
        return value
    raise ParamsError(f"{where} must be null or a database URL such as "
                      f"postgresql://user:password@host/database, got {value!r}")


def _bad_spaces(value, where):
    raise ParamsError(f"{where} must map each search space's name to its settings, got {value!r}")


SCHEMA = {
    "method": one_of(*METHODS),
    "batch_size": integer(minimum=1),
    # A database URL to keep the studies in (for workers on other machines); null:
    # the stage's own SQLite file. $CV_SEARCH_STORAGE overrides it.
    "storage": database_url,
    "optuna": lambda value, where: validate(value, {
        "startup_trials": integer(minimum=1),
        "pruner": lambda value, where: validate(value, {
            "min_epochs": integer(minimum=1), "reduction_factor": integer(minimum=2)}, where),
    }, where),
    "grid_cv": lambda value, where: validate(value, {
        "folds": integer(minimum=2),
        "epochs": integer(minimum=1),
        "early_stopping_patience": integer(minimum=1),
    }, where),
    "spaces": lambda value, where: value if isinstance(value, Mapping) and value else _bad_spaces(value, where),
}
SPACE_SCHEMA = {
    "n_trials": integer(minimum=1),
    "epochs": integer(minimum=1),
    "train_images": integer(minimum=1),
    "max_multiply_adds": integer(minimum=1),
    "model": validate_spec,
    "search": optional(lambda value, where: value, None),
    "grid": optional(lambda value, where: value, None),
}


def search_params(params: Mapping, space: str) -> dict:
    """cv_search's settings, with search space `space`'s under "space"."""
    settings = validate(section(params, "cv_search"), SCHEMA, "cv_search")
    where = f"cv_search.spaces.{space}"
    if space not in settings["spaces"]:
        raise ParamsError(f"{where} is missing: cv_search.spaces must define {space!r}")
    chosen = validate(settings["spaces"][space], SPACE_SCHEMA, where)
    needed = "search" if settings["method"] == "optuna" else "grid"
    if chosen[needed] is None:
        raise ParamsError(f"{where}.{needed} is missing: method {settings['method']} needs it")
    keys = searchable(chosen["model"])
    check = ranges if needed == "search" else grid
    chosen[needed] = check(chosen[needed], keys, f"{where}.{needed}")
    configure(chosen["model"], {}, where)  # the base spec itself must be valid
    settings["space"] = chosen
    return settings


def searchable(spec: Mapping) -> tuple[str, ...]:
    family = spec["family"]
    blocks = len(spec["filters"] if family == "lenet" else spec.get("blocks", ()))
    return (*SEARCHABLE[family], *(f"filters_{n}" for n in range(1, blocks + 1)), *TRAINING_KEYS)


def is_integer(key: str) -> bool:
    return key in INTEGER_KEYS or key.startswith("filters_")


def _known(key, keys, where):
    if key not in keys:
        raise ParamsError(f"{where}.{key} is not searchable in this space; searchable keys: {', '.join(keys)}")


def ranges(value, keys, where) -> dict:
    """{key: {low, high, log}}: each range checked (low < high, log needs low > 0,
    whole numbers for integer keys)."""
    if not isinstance(value, Mapping) or not value:
        raise ParamsError(f"{where} must map searchable keys to ranges {{low: ..., high: ...}}, got {value!r}")
    checked = {}
    for key, bounds in value.items():
        _known(key, keys, where)
        bound = integer(minimum=0) if is_integer(key) else number(minimum=0.0)
        bounds = validate(bounds, {"low": bound, "high": bound, "log": optional(boolean, False)}, f"{where}.{key}")
        if not bounds["low"] < bounds["high"]:
            raise ParamsError(f"{where}.{key}: low ({bounds['low']}) must be < high ({bounds['high']})")
        if bounds["log"] and bounds["low"] <= 0:
            raise ParamsError(f"{where}.{key}: a log range needs low > 0, got {bounds['low']}")
        checked[key] = bounds
    return checked


def grid(value, keys, where) -> dict:
    if not isinstance(value, Mapping) or not value:
        raise ParamsError(f"{where} must map searchable keys to lists of values to try, got {value!r}")
    for key in value:
        _known(key, keys, where)
    return {key: list_of(lambda v, _: v)(values, f"{where}.{key}") for key, values in value.items()}


def configure(base: Mapping, values: Mapping, where: str = "cv_search") -> dict:
    """The base spec with the searched `values` applied, checked."""
    spec = copy.deepcopy(dict(base))
    for key, value in values.items():
        if key == "augmentation":
            spec[key] = {bound: amount * value for bound, amount in base.get(key, {}).items()}
        elif key.startswith("filters_"):
            block = int(key.removeprefix("filters_")) - 1
            if spec["family"] == "lenet":
                spec["filters"][block] = value
            else:
                spec["blocks"][block] = [value] * len(spec["blocks"][block])
        elif key not in ("depth", "width"):
            spec[key] = value
    if spec["family"] == "mlp" and ("depth" in values or "width" in values):
        hidden = base["hidden_units"]
        spec["hidden_units"] = [values.get("width", hidden[0] if hidden else 1)] * values.get("depth", len(hidden))
    return validate_spec(spec, f"{where} {dict(values)}" if values else f"{where}.model")


def suggest(trial, ranges: Mapping) -> dict:
    """One value per searched key, drawn by the trial's sampler."""
    values = {}
    for key, bounds in ranges.items():
        draw = trial.suggest_int if is_integer(key) else trial.suggest_float
        values[key] = draw(key, bounds["low"], bounds["high"], log=bounds["log"])
    return values


def study_name(space: str, settings: Mapping, seed: int, data_digest: str) -> str:
    """The space's name and a digest of everything that decides its trials: a changed
    space, budget, pruner, seed or data is a new study."""
    decided_by = {key: settings[key] for key in ("batch_size", "optuna")}
    decided_by.update(space=settings["space"], seed=seed, data=data_digest)
    digest = hashlib.sha256(json.dumps(decided_by, sort_keys=True).encode()).hexdigest()
    return f"{space}-{digest[:12]}"
