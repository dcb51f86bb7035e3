"""AgentTools: the delegation tools for a set of coworkers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from ...agent import Agent, AgentPersona
from ..base_tool import BaseTool
from .ask_question_tool import AskQuestionTool
from .delegate_work_tool import DelegateWorkTool


class AgentTools:
    """The delegation tools that reach *agents*: ``AgentTools(agents).tools()``.

    A crew gives these to its manager (hierarchical process) and to agents with
    ``allow_delegation=True`` (sequential process); build them yourself to give an
    agent coworkers by hand.

    Args:
        agents: the coworkers.
        personas: the coworkers' personas for one kickoff (by agent id), with its
            inputs filled in; without them, roles are used as written.

    Raises:
        ConfigurationError: if two coworkers share a role.
    """

    def __init__(
        self,
        agents: Sequence[Agent],
        *,
        personas: Mapping[uuid.UUID, AgentPersona] | None = None,
    ) -> None:
        self.agents = list(agents)
        self.personas = personas

    def tools(self) -> list[BaseTool]:
        """A "Delegate work to coworker" and an "Ask question to coworker" tool."""
        made: list[BaseTool] = []
        for kind in (DelegateWorkTool, AskQuestionTool):
            item = kind(agents=self.agents)
            if self.personas is not None:
                item.use_personas(self.personas)
            made.append(item)
        return made
