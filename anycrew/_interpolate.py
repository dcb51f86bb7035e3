"""Kickoff inputs: validation and ``{placeholder}`` interpolation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import InvalidInputError

_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
# ``{{name}}`` is an escaped placeholder: it becomes the literal ``{name}``.
_PLACEHOLDER = re.compile(rf"\{{\{{({_NAME})\}}\}}|\{{({_NAME})\}}")
_SCALARS = (str, int, float, bool, type(None))


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, list):
        for position, item in enumerate(value):
            _check_value(item, f"{where}[{position}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(
                    f"input {where} has a non-string key {key!r}; dictionary keys must be strings"
                )
            _check_value(item, f"{where}[{key!r}]")
        return
    raise InvalidInputError(
        f"input {where} is a {type(value).__name__}; inputs may hold str, int, float, bool, "
        "None, list and dict values only (convert it first, e.g. with str())"
    )


def validate_inputs(inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check that *inputs* is a mapping of str to JSON-like values; return a copy.

    Raises:
        InvalidInputError: naming the offending key and what to pass instead.
    """
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise InvalidInputError(
            f"inputs must be a dict of names to values, got {type(inputs).__name__}"
        )
    checked: dict[str, Any] = {}
    for key, value in inputs.items():
        if not isinstance(key, str):
            raise InvalidInputError(f"input names must be strings, got {key!r}")
        _check_value(value, repr(key))
        checked[key] = value
    return checked


def placeholders(template: str) -> list[str]:
    """The placeholder names in *template*, in order of appearance."""
    return [name for escaped, name in _PLACEHOLDER.findall(template) if not escaped]


def _render(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def interpolate(template: str, inputs: Mapping[str, Any], *, owner: str, field: str) -> str:
    """Replace each ``{name}`` in *template* with ``inputs[name]``.

    Only identifiers in braces are placeholders, so JSON examples and other braces
    in the text are left alone; ``{{name}}`` gives a literal ``{name}``. Lists and
    dicts are written as JSON.

    Raises:
        InvalidInputError: if a placeholder has no input, naming it and *owner*.
    """
    if "{" not in template:
        return template

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.groups()
        if escaped:
            return f"{{{escaped}}}"
        if name not in inputs:
            raise InvalidInputError(
                f"missing input {name!r} for {owner} ({field}): pass inputs={{{name!r}: ...}} "
                "to kickoff"
            )
        return _render(inputs[name])

    return _PLACEHOLDER.sub(replace, template)
