"""anycrew: a structured-concurrency runtime for CrewAI-style crews, on anyio.

General layout (imports point one way, from the top of this list to the bottom):

* adapters/   the edges: LLM providers (the simulator first). Imported lazily,
              through the registry in llms/registry.py, never by ``import anycrew``.
* the domain: agent.py, task.py, crew.py, process.py, llm.py and llms/ (the LLM
              seam), tools/ (BaseTool, @tool), streaming/ (frames, sessions,
              chunks), tasks/ and crews/ (outputs), events/ (the catalogue, the
              bus, BaseEventListener), errors.py. Users construct these.
* runtime/    the engine: run scopes, the event pipe and its per-lane fan-out, the
              thread shim, stream drivers, rate limits. It knows nothing of agents,
              tasks or LLMs.
* bench/      ``anycrew bench`` (loaded only by the command, never by ``import anycrew``).

Code written for CrewAI runs after changing the import prefix ``crewai`` to ``anycrew``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from .agent import Agent as Agent
    from .crew import Crew as Crew
    from .crews.crew_output import CrewOutput as CrewOutput
    from .flow import Flow as Flow
    from .llm import LLM as LLM
    from .llms.base_llm import BaseLLM as BaseLLM
    from .process import Process as Process
    from .runtime import checkpoint as checkpoint
    from .task import Task as Task
    from .tasks.output_format import OutputFormat as OutputFormat
    from .tasks.task_output import TaskOutput as TaskOutput
    from .types.usage_metrics import UsageMetrics as UsageMetrics

# The public names load on first use (PEP 562), so ``import anycrew`` costs no
# pydantic and no anyio until a name is touched; ``from anycrew import Agent`` loads
# what Agent needs, and ``Flow`` alone loads the flow engine.
_HOMES = {
    "LLM": ".llm",
    "Agent": ".agent",
    "BaseLLM": ".llms.base_llm",
    "Crew": ".crew",
    "CrewOutput": ".crews.crew_output",
    "Flow": ".flow",
    "OutputFormat": ".tasks.output_format",
    "Process": ".process",
    "Task": ".task",
    "TaskOutput": ".tasks.task_output",
    "UsageMetrics": ".types.usage_metrics",
    "checkpoint": ".runtime",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)


__version__ = "0.1.0.dev0"

__all__ = [
    "LLM",
    "Agent",
    "BaseLLM",
    "Crew",
    "CrewOutput",
    "Flow",
    "OutputFormat",
    "Process",
    "Task",
    "TaskOutput",
    "UsageMetrics",
    "checkpoint",
]
