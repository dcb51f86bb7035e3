"""The words an agent sends to its model."""

from __future__ import annotations

import re

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
) -> list[Message]:
    """The system and user messages for one agent step."""
    system = f"You are {role}. {backstory}\nYour personal goal is: {goal}\n\n{_FORMAT}"
    user = f"Current Task: {description}\n\nExpected output: {expected_output}\n"
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
