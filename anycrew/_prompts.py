"""The words an agent sends to its model."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .llms.types import Message

_FINAL_ANSWER = "Final Answer:"

_FORMAT = (
    "Work the task out, then reply in this format:\n"
    "Thought: <your reasoning, briefly>\n"
    "Final Answer: <the complete answer, in the form the task's expected output asks for>"
)


def agent_messages(
    *,
    role: str,
    goal: str,
    backstory: str,
    description: str,
    expected_output: str,
    context: str | None,
    output_schema: dict[str, Any] | None = None,
) -> list[Message]:
    """The system and user messages for one agent step."""
    system = f"You are {role}. {backstory}\nYour personal goal is: {goal}\n\n{_FORMAT}"
    user = f"Current Task: {description}\n\nExpected output: {expected_output}\n"
    if output_schema is not None:
        user += (
            "\nYour final answer must be a single JSON object that matches this JSON "
            f"schema, with nothing before or after it:\n{json.dumps(output_schema)}\n"
        )
    if context:
        user += f"\nContext from earlier tasks:\n{context}\n"
    user += "\nBegin. Give your complete final answer."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def final_answer(text: str) -> str:
    """The answer part of a reply: the text after the last "Final Answer:", else all of it."""
    position = text.rfind(_FINAL_ANSWER)
    if position >= 0:
        return text[position + len(_FINAL_ANSWER) :].strip()
    return text.strip()


def react_instructions(tool_lines: list[str], names: list[str]) -> str:
    """How a model without function calling asks for a tool (the ReAct protocol)."""
    listed = "\n".join(f"- {line}" for line in tool_lines)
    return (
        f"You have these tools:\n{listed}\n\n"
        "To use a tool, reply with exactly:\n"
        "Thought: <why you need it>\n"
        f"Action: <one of: {', '.join(names)}>\n"
        "Action Input: <the arguments as a JSON object>\n\n"
        "Then wait: the result comes back as an Observation. Use tools as often as you "
        "need, then reply with:\n"
        "Thought: I now know the final answer\n"
        "Final Answer: <the complete answer>"
    )


_ACTION = re.compile(
    r"Action\s*:\s*(?P<name>[^\n]+?)\s*\n\s*Action\s*Input\s*:\s*(?P<input>.*?)\s*"
    r"(?=\n\s*Observation\s*:|\Z)",
    re.DOTALL,
)


def react_action(text: str) -> tuple[str, str] | None:
    """The tool name and argument text of a ReAct reply, unless it gives its final answer.

    An action that comes before a final answer wins: the model wrote the final
    answer ahead of seeing the observation.
    """
    match = _ACTION.search(text)
    if match is None:
        return None
    final = text.find(_FINAL_ANSWER)
    if final != -1 and final < match.start():
        return None
    raw = match.group("input").strip()
    if raw.startswith("```"):
        raw = raw.strip("`").removeprefix("json").strip()
    return match.group("name").strip(), raw


OUT_OF_STEPS = (
    "You have used all the steps you are allowed for this task. Do not call any more "
    "tools: reply now with 'Final Answer:' and the best complete answer you can give."
)


#: How often an answer that does not fit the task's output model is sent back.
OUTPUT_RETRIES = 3

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)

M = TypeVar("M", bound=BaseModel)


def parse_structured(text: str, model: type[M]) -> M:
    """The JSON object in *text* (bare or in a code fence), validated as *model*.

    Raises:
        ValueError: naming what is wrong (no JSON object, bad JSON, or the
            validation errors), in words the model can act on.
    """
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start, end = candidate.find("{"), candidate.rfind("}")
    if start == -1 or end < start:
        raise ValueError("the answer contains no JSON object")
    try:
        return model.model_validate_json(candidate[start : end + 1])
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'the object'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ValueError(problems) from None


def fix_output(problem: str) -> str:
    """The message that sends a malformed structured answer back to the model."""
    return (
        f"Your answer does not fit the required JSON schema: {problem}. Reply with "
        "'Final Answer:' followed by only the corrected JSON object."
    )
