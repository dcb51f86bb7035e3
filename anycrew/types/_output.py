"""The behaviour TaskOutput and CrewOutput share."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class StructuredOutput(BaseModel):
    """Raw text, optionally with a pydantic model or a JSON dict parsed from it.

    ``str(output)`` is the pydantic model's text if there is one, else the JSON dict
    if there is one, else ``raw``. ``output["key"]`` reads from the pydantic model or
    the JSON dict.
    """

    model_config = ConfigDict(defer_build=True)

    raw: str = ""
    pydantic: BaseModel | None = None
    json_dict: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON dict, else the pydantic model's fields, else an empty dict."""
        output: dict[str, Any] = {}
        if self.json_dict:
            output.update(self.json_dict)
        elif self.pydantic:
            output.update(self.pydantic.model_dump())
        return output

    def __getitem__(self, key: str) -> Any:
        if self.pydantic is not None and hasattr(self.pydantic, key):
            return getattr(self.pydantic, key)
        if self.json_dict is not None and key in self.json_dict:
            return self.json_dict[key]
        raise KeyError(f"key {key!r} is in neither the pydantic output nor the JSON output")

    def __str__(self) -> str:
        if self.pydantic is not None:
            return str(self.pydantic)
        if self.json_dict is not None:
            return str(self.json_dict)
        return self.raw
