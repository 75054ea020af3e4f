"""Checking params against their typed models (stages.lib.core.config) with one clear line
for the first problem: the key's full dotted name, what was expected, what was there,
and the closest known key or value for a misspelling."""

import difflib
import re
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic_core import PydanticCustomError

from stages.lib.core.errors import ParamsError


class Strict(pydantic.BaseModel):
    """A params section: every key known (a misspelled one gets a "did you mean"), no
    type coercion (2.5 is not an integer, "yes" not a boolean), read-only."""

    model_config = pydantic.ConfigDict(strict=True, frozen=True)

    @pydantic.model_validator(mode="before")
    @classmethod
    def _known_keys(cls, values: Any) -> Any:
        if isinstance(values, dict):
            for key in values:
                if key not in cls.model_fields:
                    raise problem(
                        f".{key}",
                        f" is not a known parameter{suggest(key, cls.model_fields)}; "
                        f"expected keys: {', '.join(cls.model_fields)}",
                    )
        return values


def _count_or_fraction(value: Any) -> int | float:
    count = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if not (count or isinstance(value, float) and 0 < value < 1):
        raise problem("", f" must be a count (an integer >= 1) or a fraction (0 < f < 1), got {value!r}")
    return value


# A number of images: a count, or a fraction of those there are (rounded to a count).
CountOrFraction = Annotated[int | float, pydantic.PlainValidator(_count_or_fraction)]


def images_of(value: int | float, total: int) -> int:
    """A count or fraction of `total` images as a count."""
    return value if isinstance(value, int) else round(value * total)


def problem(key: str, text: str) -> PydanticCustomError:
    """An error for `key` (dotted, relative to the value being checked, or "") reading
    "KEY TEXT" after the value's own name."""
    return PydanticCustomError("params", "{key}{text}", {"key": key, "text": text})


def suggest(value: Any, candidates) -> str:
    close = difflib.get_close_matches(str(value), [str(c) for c in candidates], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path} not found: run the stage from the repository root") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {error}") from None


def checked(model, value: Any, where: str):
    """`value` validated as `model` (a pydantic model or a TypeAdapter), or a ParamsError
    naming its first problem; `where` is the value's dotted name."""
    try:
        if isinstance(model, pydantic.TypeAdapter):
            return model.validate_python(value)
        return model.model_validate(value)
    except pydantic.ValidationError as error:
        raise ParamsError(message(error.errors()[0], where)) from None


# The tags of the model-spec union, which pydantic puts in an error's location after
# the spec's own key (`model`), or first when a spec alone is checked.
UNION_TAGS = ("mlp", "lenet", "cnn")


def message(error: dict, where: str) -> str:
    """One line for a pydantic error."""
    loc = error["loc"]
    path = where
    for i, part in enumerate(loc):
        if part in UNION_TAGS and (i == 0 or loc[i - 1] == "model"):
            continue
        path = f"{path}[{part}]" if isinstance(part, int) else f"{path}.{part}" if path else part
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    name = path or "params.yaml"
    if kind == "params":
        return f"{path}{ctx['key']}{ctx['text']}".removeprefix(".")
    if kind == "missing":
        parent, _, key = path.rpartition(".")
        return f"{parent or 'params.yaml'} is missing {key}"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"{name} must be {bounds[kind]} {limit}, got {value!r}"
    if kind in ("literal_error", "union_tag_invalid"):
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ctx.get("expected_tags", "")))
        got = ctx.get("tag", value)
        name = f"{name}.family" if kind == "union_tag_invalid" else name
        return f"{name} must be one of {', '.join(map(repr, choices))}, got {got!r}{suggest(got, choices)}"
    if kind == "union_tag_not_found":
        return f"{name} must be a mapping with a 'family' key (one of {', '.join(UNION_TAGS)})"
    if kind in ("too_short", "too_long"):
        bound = (
            f"at least {ctx.get('min_length')}" if kind == "too_short" else f"at most {ctx.get('max_length')}"
        )
        return f"{name} must have {bound} item(s), got {ctx['actual_length']}"
    expected = {
        "string_too_short": "a non-empty string",
        "int": "an integer",
        "float": "a number",
        "finite_number": "a finite number",
        "bool": "true or false",
        "string": "a string",
        "list": "a list",
        "dict": "a mapping",
        "model": "a mapping",
    }
    for prefix, words in expected.items():
        if kind.startswith(prefix):
            return f"{name} must be {words}, got {value!r}"
    return f"{name}: {error['msg']}, got {value!r}"
