"""The words an agent sends to its model."""

from __future__ import annotations

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
