"""AskQuestionTool: "Ask question to coworker"."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .base_agent_tools import BaseAgentTool


class AskQuestionToolSchema(BaseModel):
    """The arguments of "Ask question to coworker"."""

    question: str = Field(description="the question to ask")
    context: str = Field(description="everything the coworker needs to know to answer it")
    coworker: str = Field(description="the role of the coworker to ask")


class AskQuestionTool(BaseAgentTool):
    """Asks a coworker a question and returns the coworker's answer.

    See :class:`BaseAgentTool` for how the coworker is found and runs.
    """

    name: str = "Ask question to coworker"
    args_schema: type[BaseModel] | None = AskQuestionToolSchema

    def _describe(self, roles: list[str]) -> str:
        return (
            f"Ask one of these coworkers a specific question: {', '.join(roles)}. Give "
            "the coworker's role, the question, and all the context needed to answer "
            "it: the coworker knows nothing about your task, so explain everything "
            "rather than referring to it."
        )

    async def _arun(self, **arguments: Any) -> str:
        # Arguments as in AskQuestionToolSchema.
        return await self._hand_over(
            arguments.get("coworker"), str(arguments["question"]), str(arguments.get("context", ""))
        )
