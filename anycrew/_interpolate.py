"""Kickoff inputs: validation and ``{placeholder}`` interpolation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from .errors import InvalidInputError

_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
# ``{{name}}`` is an escaped placeholder: it becomes the literal ``{name}``.
_PLACEHOLDER = re.compile(rf"\{{\{{({_NAME})\}}\}}|\{{({_NAME})\}}")
_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)  # exactly these: no isinstance, no call


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
        if value.__class__ not in _SCALAR_TYPES:
            _check_value(value, repr(key))
        checked[key] = value
    return checked


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@lru_cache(maxsize=1024)
def _compile(template: str) -> tuple[str, ...]:
    """*template* split into literal text and placeholder names, alternating.

    ``(text0, name1, text1, name2, text2, ...)``: a template without placeholders is
    ``(template,)``. Escaped ``{{name}}`` is already literal ``{name}`` here. The
    templates are the fields of a crew's tasks and agents, filled in once per
    kickoff: parsed once, filled by a join.
    """
    parts: list[str] = []
    text: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        text.append(template[last : match.start()])
        last = match.end()
        escaped, name = match.groups()
        if escaped:
            text.append(f"{{{escaped}}}")
            continue
        parts.append("".join(text))
        parts.append(name)
        text = []
    text.append(template[last:])
    parts.append("".join(text))
    return tuple(parts)


def interpolate(
    template: str,
    inputs: Mapping[str, Any],
    *,
    owner: str | Callable[[], str],
    field: str,
) -> str:
    """Replace each ``{name}`` in *template* with ``inputs[name]``.

    Only identifiers in braces are placeholders, so JSON examples and other braces
    in the text are left alone; ``{{name}}`` gives a literal ``{name}``. Lists and
    dicts are written as JSON.

    *owner* names what the template belongs to in the error ("task 'Research'"); it
    may be a function giving that name, called only for the error.

    Raises:
        InvalidInputError: if a placeholder has no input, naming it and *owner*.
    """
    if "{" not in template:
        return template
    parts = _compile(template)
    if len(parts) == 1:
        return parts[0]
    pieces = [parts[0]]
    for index in range(1, len(parts), 2):
        name = parts[index]
        try:
            value = inputs[name]
        except KeyError:
            who = owner() if callable(owner) else owner
            raise InvalidInputError(
                f"missing input {name!r} for {who} ({field}): pass inputs={{{name!r}: ...}} "
                "to kickoff"
            ) from None
        pieces.append(_render(value))
        pieces.append(parts[index + 1])
    return "".join(pieces)
