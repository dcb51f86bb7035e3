"""Who works on each task of a crew, and with which delegation tools.

Sequential process: the task's agent works on it; if it has ``allow_delegation=True``
and the crew has other agents, it also gets the delegation tools, whose coworkers
are those other agents.

Hierarchical process: a manager works on every task. It has only the delegation
tools: their coworkers are the task's agent when the task names one, else all the
crew's agents. It plans, hands work and questions to its coworkers, checks what
they give back and gives the task's final answer. The manager is ``manager_agent``
or, with ``manager_llm``, a default "Crew Manager" on that model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .agent import Agent, AgentPersona
from .errors import ConfigurationError
from .llms.base_llm import BaseLLM
from .process import Process
from .tools.base_tool import BaseTool

if TYPE_CHECKING:
    from .crew import Crew
    from .task import Task

MANAGER_ROLE = "Crew Manager"
MANAGER_GOAL = "Get every task done well by giving each part to the right member of the crew."
MANAGER_BACKSTORY = (
    "You lead a crew of specialists. You do not do the work yourself: you split a task "
    "into clear requests, hand each to the coworker best placed for it, ask questions "
    "when something is unclear, and judge what comes back before you give the final "
    "answer. You know the field well enough to tell good work from bad."
)


def default_manager(llm: BaseLLM) -> Agent:
    """The manager a hierarchical crew gets from ``manager_llm``."""
    return Agent(
        role=MANAGER_ROLE,
        goal=MANAGER_GOAL,
        backstory=MANAGER_BACKSTORY,
        llm=llm,
        allow_delegation=True,
    )


def check_crew(crew: Crew) -> Agent | None:
    """Check *crew*'s delegation setup; its manager if it is hierarchical.

    Raises:
        ConfigurationError: naming what is wrong and how to fix it.
    """
    if crew.process != Process.hierarchical:
        if any(agent.allow_delegation for agent in _task_agents(crew)):
            _check_distinct_roles(crew)
        return None
    manager = _check_manager(crew)
    for position, task in enumerate(crew.tasks):
        if task.agent is manager:
            raise ConfigurationError(
                f"task {position} ({task.display_name!r}) names the manager as its agent; "
                "in a hierarchical crew the manager works on every task: leave agent "
                "unset, or name the agent the manager should hand the task to"
            )
        if task.agent is None and not crew.agents:
            raise ConfigurationError(
                f"task {position} ({task.display_name!r}) has no agent and the crew has no "
                "agents for the manager to delegate to: pass agents=[...] to the Crew"
            )
    _check_distinct_roles(crew)
    return manager


def _check_distinct_roles(crew: Crew) -> None:
    # The delegation tools load only for crews that delegate: most crews never do.
    from .tools.agent_tools.base_agent_tools import check_distinct_roles

    check_distinct_roles((agent.role for agent in crew.agents), "crew")


def _check_manager(crew: Crew) -> Agent:
    if crew.manager_agent is None and crew.manager_llm is None:
        raise ConfigurationError(
            "a hierarchical crew needs a manager: pass manager_llm= (an LLM or a model "
            "string such as 'sim') or manager_agent=Agent(...) to the Crew"
        )
    if crew.manager_agent is not None and crew.manager_llm is not None:
        raise ConfigurationError(
            "pass either manager_llm or manager_agent to the Crew, not both; to choose "
            "the model of your manager agent, give it llm=..."
        )
    if crew.manager_agent is None:
        assert crew.manager_llm is not None
        return default_manager(crew.manager_llm)
    manager = crew.manager_agent
    if any(agent is manager or agent.id == manager.id for agent in crew.agents):
        raise ConfigurationError(
            f"manager_agent {manager.role!r} is also in the crew's agents; the manager "
            "delegates to the agents and cannot be one of them: remove it from agents=[...]"
        )
    if manager.tools:
        raise ConfigurationError(
            f"manager_agent {manager.role!r} has tools; a manager works only through its "
            "coworkers (it gets the delegation tools): give the tools to the agents instead"
        )
    return manager


def _task_agents(crew: Crew) -> list[Agent]:
    return [task.agent for task in crew.tasks if task.agent is not None]


def assign(crew: Crew, manager: Agent | None, task: Task) -> tuple[Agent, list[Agent] | None]:
    """Who works on *task*, and the coworkers it may delegate to (None: no delegation)."""
    if manager is not None:
        return manager, [task.agent] if task.agent is not None else list(crew.agents)
    agent = task.agent
    assert agent is not None  # the crew's validator guarantees it
    if not agent.allow_delegation:
        return agent, None
    coworkers = [other for other in crew.agents if other is not agent]
    return agent, coworkers or None


def task_tools(
    agent: Agent, coworkers: Sequence[Agent], persona_of: Callable[[Agent], AgentPersona]
) -> tuple[BaseTool, ...]:
    """*agent*'s own tools and the delegation tools that reach *coworkers* this kickoff.

    Raises:
        InvalidInputError: if a coworker's persona misses an input.
        ConfigurationError: if two coworkers' roles are the same once filled in.
    """
    from .tools.agent_tools import AgentTools

    personas = {coworker.id: persona_of(coworker) for coworker in coworkers}
    return (*agent.tools, *AgentTools(coworkers, personas=personas).tools())
