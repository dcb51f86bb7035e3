"""BaseAgentTool: what the delegation tools share (finding a coworker, handing it a request)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from pydantic import Field, PrivateAttr

from ... import runtime
from ..._verbose import clip
from ...agent import Agent, AgentPersona
from ...errors import ConfigurationError, DelegationError
from ...events._emit import current_agent_id
from ...events.bus import event_bus
from ..base_tool import BaseTool

#: The most delegations one request may pass through (A asks B, B asks C, C asks D).
#: Crews wire delegation one level deep (a coworker works with its own tools only);
#: the limit guards against delegation tools a user gives to coworkers by hand.
MAX_DELEGATION_DEPTH = 3

#: What a coworker is asked to deliver for a delegated request.
COWORKER_EXPECTED_OUTPUT = (
    "Your best complete answer to what your coworker asked, making use of the context they shared."
)

# The ids of the agents on the current chain of delegations, the first asker first
# ("" when that asker was not an agent, e.g. a tool run directly).
_chain: ContextVar[tuple[str, ...]] = ContextVar("anycrew_delegation_chain", default=())


def role_key(role: str) -> str:
    """*role* as coworkers are matched: whitespace collapsed, quotes dropped, casefolded."""
    return " ".join(role.replace('"', "").split()).strip("'`").casefold()


def check_distinct_roles(roles: Iterable[str], where: str) -> None:
    """Raise ConfigurationError if two of *roles* would match the same coworker name."""
    seen: dict[str, str] = {}
    for role in roles:
        key = role_key(role)
        if key in seen:
            raise ConfigurationError(
                f"{where}: agents {seen[key]!r} and {role!r} have the same role, but "
                "coworkers are named by role: give each agent a distinct role"
            )
        seen[key] = role


def _never(_arguments: dict[str, Any], _result: Any) -> bool:
    return False


class BaseAgentTool(BaseTool):
    """Base of the tools that hand a request to a coworker (another agent of the crew).

    The model names the coworker by role, matched case-insensitively and ignoring
    extra whitespace and quotes. The coworker works on the request inside the same
    run, as a child of the tool call: its events nest under the tool's
    ``ToolUsageStartedEvent``, its LLM calls count toward the crew's usage and rate
    limits, and cancelling the run cancels it. Its final answer is the tool's
    result, never cached: asking again is new work.

    A coworker works with its own tools only, so delegation is one level deep in a
    crew. Delegation tools given to agents by hand are bounded: a request is never
    handed back to an agent already working on it, and never passes through more
    than :data:`MAX_DELEGATION_DEPTH` delegations.

    Outside a kickoff (``tool.run(...)``) the coworker works in a run of its own.

    Args:
        agents: the coworkers this tool can reach.

    Raises:
        ConfigurationError: if two coworkers share a role.
    """

    agents: list[Agent] = Field(default_factory=list)
    description: str = ""
    cache_function: Callable[[dict[str, Any], Any], bool] = _never

    _personas: dict[uuid.UUID, AgentPersona] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        if not self.description.strip():
            self.description = self._describe([agent.role for agent in self.agents])
        super().model_post_init(context)
        check_distinct_roles((agent.role for agent in self.agents), f"tool {self.name!r}")

    def _describe(self, roles: list[str]) -> str:
        return f"Hand a request to one of these coworkers: {', '.join(roles)}."

    def use_personas(self, personas: Mapping[uuid.UUID, AgentPersona]) -> None:
        """Give the coworkers these personas (a kickoff's, with its inputs filled in).

        Raises:
            ConfigurationError: if two coworkers' roles become the same once filled in.
        """
        self._personas = {a.id: personas[a.id] for a in self.agents if a.id in personas}
        roles = [self._persona(agent).role for agent in self.agents]
        check_distinct_roles(roles, f"tool {self.name!r}")
        self.description = self._describe(roles)

    def _persona(self, agent: Agent) -> AgentPersona:
        return self._personas.get(agent.id) or agent.persona({})

    def _coworker(self, name: str | None) -> Agent:
        wanted = (name or "").strip()
        if wanted.startswith("[") and wanted.endswith("]"):  # a list: take the first
            wanted = wanted[1:-1].split(",")[0]
        key = role_key(wanted)
        for agent in self.agents:
            if role_key(self._persona(agent).role) == key:
                return agent
        roles = ", ".join(repr(self._persona(agent).role) for agent in self.agents)
        named = f"there is no coworker named {wanted!r}" if key else "no coworker was named"
        raise DelegationError(
            f"{named}; the coworkers are: {roles or '(none)'}. Call {self.name!r} again "
            "with one of these roles as the coworker"
        )

    def _next_chain(self, agent: Agent, role: str) -> tuple[str, ...]:
        caller = current_agent_id()
        chain = _chain.get() or (caller or "",)
        if str(agent.id) in chain or str(agent.id) == caller:
            raise DelegationError(
                f"{role!r} is already working on this request (it is the one asking, or "
                "it asked further up the chain); do not hand the request back: do the "
                "work yourself or ask another coworker"
            )
        if len(chain) > MAX_DELEGATION_DEPTH:
            raise DelegationError(
                f"this request has already been delegated {len(chain) - 1} times, the "
                "most allowed; do not delegate it further: do the work yourself"
            )
        return (*chain, str(agent.id))

    async def _hand_over(self, coworker: str | None, request: str, context: str) -> str:
        """Have the named coworker work on *request*; its final answer.

        Raises:
            DelegationError: for an unknown coworker, a cycle or too deep a chain.
        """
        agent = self._coworker(coworker)
        persona = self._persona(agent)
        chain = self._next_chain(agent, persona.role)
        description = request.strip()
        if context.strip():
            description += f"\n\nContext shared with you:\n{context.strip()}"

        async def work(_run: runtime.Run | None = None) -> str:
            with runtime.bind(_chain, chain):
                answer = await agent.aexecute_task(
                    persona,
                    description=description,
                    expected_output=COWORKER_EXPECTED_OUTPUT,
                    context=None,
                    task_name=clip(request, 60),
                )
            return answer.text

        if runtime.current_run() is None:
            return await runtime.open_run(work, router=event_bus.active_registry())
        return await work()
