"""The steps of an agent's work, as a ``step_callback`` sees them.

An agent calls its step callback (``Agent(step_callback=...)``, else the crew's
``Crew(step_callback=...)``) once per tool call, with an :class:`AgentAction` whose
``result`` holds what the tool gave back, and with an :class:`AgentFinish` when it
has its final answer (again for each corrected answer, when an answer that does not
fit the task's output model is sent back). The names and attributes are CrewAI's.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

_MARKERS = ("\nAction", "\nFinal Answer")


@dataclass(slots=True)
class AgentAction:
    """A tool call the agent made, and its result.

    Attributes:
        thought: the model's reasoning before the call ("" if it gave none).
        tool: the name of the tool, as the model wrote it.
        tool_input: the arguments, as the JSON text the model wrote.
        text: the model's whole reply for this step.
        result: what went back to the model: the tool's result as text, or the
            error it was shown (an unknown tool, invalid arguments, a tool that
            raised).
    """

    thought: str
    tool: str
    tool_input: str
    text: str
    result: str | None = None


@dataclass(slots=True)
class AgentFinish:
    """The agent's final answer to its task.

    Attributes:
        thought: the model's reasoning before the answer ("" if it gave none).
        output: the answer (the text after "Final Answer:", or a tool's result
            when the tool has ``result_as_answer``).
        text: the model's whole reply for this step.
    """

    thought: str
    output: str | BaseModel
    text: str


def thought_of(text: str) -> str:
    """The reasoning part of a reply: what comes before its action or final answer."""
    stripped = text.strip()
    if stripped.startswith(("Action", "Final Answer")):
        return ""
    cut = min((i for i in (text.find(m) for m in _MARKERS) if i >= 0), default=-1)
    if cut < 0:
        return ""
    return text[:cut].strip().removeprefix("Thought:").strip()
