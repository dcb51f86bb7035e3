"""Placeholder interpolation: what is filled in, what is left alone, and the errors."""

from __future__ import annotations

from typing import Any

import pytest

from anycrew._interpolate import interpolate
from anycrew.errors import InvalidInputError


@pytest.mark.parametrize(
    ("template", "inputs", "expected"),
    [
        ("no placeholders", {}, "no placeholders"),
        ("{a}", {"a": "x"}, "x"),
        ("{a}{b}", {"a": "x", "b": "y"}, "xy"),
        ("{a} and {a} again", {"a": "x"}, "x and x again"),
        (
            "count {n}, ratio {r}, flag {f}, none {z}",
            {"n": 3, "r": 0.5, "f": True, "z": None},
            "count 3, ratio 0.5, flag True, none None",
        ),
        ("list {l}", {"l": [1, "two"]}, 'list [1, "two"]'),
        ("dict {d}", {"d": {"k": "é"}}, 'dict {"k": "é"}'),
        # Escaped placeholders become literal braces, and are not looked up.
        ("literal {{a}}", {}, "literal {a}"),
        ("{{a}} is {a}", {"a": "x"}, "{a} is x"),
        # Braces that are not around an identifier are text.
        ('json {"k": 1} and {a}', {"a": "x"}, 'json {"k": 1} and x'),
        ("{ a } {1a} {}", {}, "{ a } {1a} {}"),
        ("{a-b} {_c}", {"a-b": 1, "_c": 2}, "1 2"),
        # A value that looks like a placeholder is not filled again.
        ("{a}", {"a": "{b}"}, "{b}"),
    ],
)
def test_interpolate_fills_placeholders_only(
    template: str, inputs: dict[str, Any], expected: str
) -> None:
    assert interpolate(template, inputs, owner="task 't'", field="description") == expected
    # A second fill of the same template (parsed once, then reused) gives the same.
    assert interpolate(template, inputs, owner="task 't'", field="description") == expected


def test_the_same_template_fills_from_each_call_s_inputs() -> None:
    template = "Describe {topic} for {who}"
    filled = [
        interpolate(template, {"topic": str(i), "who": "me"}, owner="o", field="f")
        for i in range(3)
    ]
    assert filled == ["Describe 0 for me", "Describe 1 for me", "Describe 2 for me"]


def test_missing_input_names_the_placeholder_the_owner_and_the_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        interpolate("{a} {b}", {"a": 1}, owner="task 'Research'", field="expected_output")
    message = str(caught.value)
    assert "missing input 'b' for task 'Research' (expected_output)" in message
    assert "inputs={'b': ...}" in message


def test_an_owner_function_is_called_only_for_the_error() -> None:
    calls: list[str] = []

    def owner() -> str:
        calls.append("called")
        return "agent 'Writer'"

    assert interpolate("{a}", {"a": 1}, owner=owner, field="role") == "1"
    assert calls == []
    with pytest.raises(InvalidInputError, match=r"missing input 'a' for agent 'Writer' \(role\)"):
        interpolate("{a}", {}, owner=owner, field="role")
    assert calls == ["called"]
