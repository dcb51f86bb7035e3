"""DelegateWorkTool: "Delegate work to coworker"."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .base_agent_tools import BaseAgentTool


class DelegateWorkToolSchema(BaseModel):
    """The arguments of "Delegate work to coworker"."""

    task: str = Field(description="the work the coworker should do")
    context: str = Field(description="everything the coworker needs to know to do it")
    coworker: str = Field(description="the role of the coworker who should do it")


class DelegateWorkTool(BaseAgentTool):
    """Hands a piece of work to a coworker and returns the coworker's answer.

    See :class:`BaseAgentTool` for how the coworker is found and runs.
    """

    name: str = "Delegate work to coworker"
    args_schema: type[BaseModel] | None = DelegateWorkToolSchema

    def _describe(self, roles: list[str]) -> str:
        return (
            f"Hand a specific piece of work to one of these coworkers: {', '.join(roles)}. "
            "Give the coworker's role, the work to do, and all the context it needs: "
            "the coworker knows nothing about your task, so explain everything rather "
            "than referring to it."
        )

    async def _arun(self, **arguments: Any) -> str:
        # Arguments as in DelegateWorkToolSchema.
        return await self._hand_over(
            arguments.get("coworker"), str(arguments["task"]), str(arguments.get("context", ""))
        )
