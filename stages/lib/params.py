"""Read params.yaml and validate each section before any heavy work.

A schema maps each key to a check: a function that takes the value and the key's dotted
name and returns the value or raises ParamsError with a message that says what was
expected.
"""

import difflib
import math
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from stages.lib.errors import ParamsError

PARAMS_FILE = Path("params.yaml")

Check = Callable[[Any, str], Any]


def load_params(path: Path = PARAMS_FILE) -> dict:
    """The whole params file as a dict."""
    try:
        params = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path} not found: run the stage from the repository root") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(params, dict):
        raise ParamsError(f"{path} must hold a mapping of sections, got {type(params).__name__}")
    return params


def section(params: Mapping, name: str) -> Any:
    """params[name], or a ParamsError naming the missing section."""
    if name not in params:
        raise ParamsError(f"params.yaml has no '{name}' section{_suggest(name, params)}")
    return params[name]


def validate(values: Any, schema: Mapping[str, Check], where: str) -> dict:
    """Check a mapping against a schema: no missing, unknown or invalid keys."""
    if not isinstance(values, Mapping):
        raise ParamsError(f"{where} must be a mapping of {sorted(schema)}, got {values!r}")
    unknown = [key for key in values if key not in schema]
    if unknown:
        key = unknown[0]
        raise ParamsError(
            f"{where}.{key} is not a known parameter{_suggest(key, schema)}; "
            f"expected keys: {', '.join(schema)}"
        )
    missing = [key for key, check in schema.items() if key not in values and not hasattr(check, "default")]
    if missing:
        raise ParamsError(f"{where} is missing {', '.join(missing)}")
    return {
        key: check(values[key], f"{where}.{key}") if key in values else check.default
        for key, check in schema.items()
    }


def _suggest(key: str, candidates) -> str:
    close = difflib.get_close_matches(str(key), [str(c) for c in candidates], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    def check(value, where):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where} must be an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise ParamsError(f"{where} must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ParamsError(f"{where} must be <= {maximum}, got {value}")
        return value

    return check


def number(above: float | None = None, below: float | None = None, minimum: float | None = None) -> Check:
    """A real number in an open interval (above, below), or >= minimum."""

    def check(value, where):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ParamsError(f"{where} must be a number, got {value!r}")
        if above is not None and not value > above:
            raise ParamsError(f"{where} must be > {above}, got {value}")
        if below is not None and not value < below:
            raise ParamsError(f"{where} must be < {below}, got {value}")
        if minimum is not None and value < minimum:
            raise ParamsError(f"{where} must be >= {minimum}, got {value}")
        return float(value)

    return check


def one_of(*choices: str) -> Check:
    def check(value, where):
        if value not in choices:
            raise ParamsError(
                f"{where} must be one of {', '.join(map(repr, choices))}, got {value!r}"
                f"{_suggest(value, choices)}"
            )
        return value

    return check


def boolean(value, where):
    if not isinstance(value, bool):
        raise ParamsError(f"{where} must be true or false, got {value!r}")
    return value


def text(value, where):
    if not isinstance(value, str) or not value:
        raise ParamsError(f"{where} must be a non-empty string, got {value!r}")
    return value


def list_of(item: Check, min_length: int = 1, length: int | None = None) -> Check:
    def check(value, where):
        if not isinstance(value, list):
            raise ParamsError(f"{where} must be a list, got {value!r}")
        if length is not None and len(value) != length:
            raise ParamsError(f"{where} must have {length} items, got {len(value)}")
        if len(value) < min_length:
            raise ParamsError(f"{where} must have at least {min_length} item(s), got {len(value)}")
        return [item(element, f"{where}[{i}]") for i, element in enumerate(value)]

    return check


def optional(check: Check, default: Any) -> Check:
    """`check` for a key that may be left out, which then takes `default`."""

    def checked(value, where):
        return check(value, where)

    checked.default = default
    return checked


def seed(params: Mapping) -> int:
    return integer(minimum=0)(section(params, "seed"), "seed")
