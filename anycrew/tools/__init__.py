"""Tools: ``from anycrew.tools import BaseTool, tool``."""

from .base_tool import BaseTool as BaseTool
from .base_tool import Tool as Tool
from .base_tool import tool as tool

__all__ = ["BaseTool", "Tool", "tool"]
