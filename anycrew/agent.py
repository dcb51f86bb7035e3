"""Agent: a role with a goal, a backstory and a model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import anyio
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from . import runtime
from ._callbacks import Callback, check_callback, current_crew_callbacks
from ._identified import Identified
from ._interpolate import interpolate
from ._prompts import (
    OUT_OF_STEPS,
    OUTPUT_RETRIES,
    agent_messages,
    final_answer,
    fix_output,
    parse_structured,
    react_action,
    react_instructions,
)
from ._user_code import call_user
from .agents.parser import AgentAction, AgentFinish, thought_of
from .errors import AgentExecutionTimeoutError, OutputValidationError
from .events._emit import agent_step, emit, emit_shielded, unheard_id
from .events.agent_events import (
    AgentExecutionCancelledEvent,
    AgentExecutionCompletedEvent,
    AgentExecutionErrorEvent,
    AgentExecutionStartedEvent,
)
from .llm import LLM, default_llm
from .llms._invoke import describe_error, invoke_llm, rate_limited
from .llms.base_llm import BaseLLM
from .llms.types import ToolCall
from .tools._runner import ToolBelt
from .tools.base_tool import BaseTool


class AgentAnswer(NamedTuple):
    """An agent's final answer to a task, and its structured form if one was asked for."""

    text: str
    structured: BaseModel | None = None


class AgentPersona(NamedTuple):
    """An agent's role, goal and backstory with the kickoff's inputs filled in."""

    role: str
    goal: str
    backstory: str


class Agent(Identified):
    """A member of a crew.

    ``{placeholders}`` in role, goal and backstory are filled from the kickoff inputs
    (every kickoff starts again from these templates).

    Args:
        role: what the agent is ("Senior Data Analyst").
        goal: what it strives for.
        backstory: who it is; shapes its answers.
        llm: an LLM, a model string (``"sim"``, ``"provider/name"``), or None for the
            default (``ANYCREW_MODEL``, else the offline simulator).
        tools: tools the agent may use (BaseTool instances or @tool functions).
            Models with function calling get them natively, parallel calls run
            concurrently; others use the ReAct text protocol.
        max_iter: the most model calls the agent may make for one task.
        max_execution_time: seconds the agent may spend on one task; when they run
            out the task fails with AgentExecutionTimeoutError.
        max_rpm: the most LLM calls a minute this agent makes (an async token
            bucket shared by all its runs: waiting never blocks a thread).
        verbose: report its tasks as they start and finish (logger ``anycrew.verbose``;
            printed to stderr when the application has not configured logging).
        allow_delegation: in a sequential crew with other agents, give the agent the
            "Delegate work to coworker" and "Ask question to coworker" tools, whose
            coworkers are the crew's other agents (see
            :mod:`anycrew.tools.agent_tools`).
        allow_code_execution: give the agent a code execution tool (accepted; not
            wired in yet).
        step_callback: called after each step of the agent's work (sync or async;
            async ones are awaited, sync ones run in a worker thread): with an
            ``AgentAction`` per tool call (its ``result`` filled in) and an
            ``AgentFinish`` with the final answer, and again with each corrected
            answer when a structured answer is sent back (see
            ``anycrew.agents.parser``).
            Takes precedence over ``Crew(step_callback=...)``; if it raises, the
            task fails with its error.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    role: str
    goal: str
    backstory: str
    llm: BaseLLM | None = None
    tools: list[BaseTool] = Field(default_factory=list)
    max_iter: int = Field(default=25, ge=1)
    max_execution_time: float | None = Field(default=None, gt=0)
    verbose: bool = False
    max_rpm: int | None = Field(default=None, ge=1)
    allow_delegation: bool = False
    allow_code_execution: bool = False
    step_callback: Callable[[Any], Any] | None = None

    @field_validator("step_callback", mode="before")
    @classmethod
    def _check_step_callback(cls, value: Any) -> Any:
        if value is None:
            return None
        return check_callback(
            value, field="Agent step_callback", argument="an AgentAction or AgentFinish"
        )

    @field_validator("llm", mode="before")
    @classmethod
    def _model_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return LLM(model=value)
        return value

    _rpm: runtime.RateLimiter | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        if self.max_rpm is not None:
            self._rpm = runtime.RateLimiter(self.max_rpm)

    def __repr__(self) -> str:
        return f"Agent(role={self.role!r}, llm={self.llm!r})"

    def _owner(self) -> str:
        return f"agent {self.role!r}"

    def persona_is_fixed(self) -> bool:
        """Whether role, goal and backstory have no placeholder (no input changes them)."""
        return "{" not in self.role and "{" not in self.goal and "{" not in self.backstory

    def persona(self, inputs: dict[str, Any]) -> AgentPersona:
        """Role, goal and backstory with *inputs* filled in.

        Raises:
            InvalidInputError: if a placeholder has no input.
        """
        role, goal, backstory = self.role, self.goal, self.backstory
        if self.persona_is_fixed():
            return AgentPersona(role, goal, backstory)  # most agents: nothing to fill in
        owner = self._owner  # the name is worked out only for an error
        return AgentPersona(
            interpolate(role, inputs, owner=owner, field="role"),
            interpolate(goal, inputs, owner=owner, field="goal"),
            interpolate(backstory, inputs, owner=owner, field="backstory"),
        )

    def get_delegation_tools(self, agents: Sequence[Agent]) -> list[BaseTool]:
        """The tools with which this agent hands work and questions to *agents*.

        A crew gives the same tools to an agent with ``allow_delegation=True`` (and
        to its manager), with the kickoff's inputs filled into the coworkers' roles;
        use this to wire coworkers by hand. See
        :class:`anycrew.tools.agent_tools.AgentTools`.
        """
        from .tools.agent_tools import AgentTools

        return AgentTools(agents).tools()

    async def aexecute_task(
        self,
        persona: AgentPersona,
        *,
        description: str,
        expected_output: str,
        context: str | None,
        task_name: str,
        output_model: type[BaseModel] | None = None,
        tools: Sequence[BaseTool] | None = None,
    ) -> AgentAnswer:
        """Work on one task inside the current run and return the final answer.

        *tools* are the tools for this task (the crew adds delegation tools to the
        agent's own); ``None`` means the agent's own ``tools``.

        With *output_model* the answer must be a JSON object that validates against
        it: the schema goes into the prompt, and an answer that does not fit is sent
        back with the validation errors, up to :data:`OUTPUT_RETRIES` times.

        Emits AgentExecutionStarted, then Completed, Error or Cancelled.

        Raises:
            AgentExecutionTimeoutError: when ``max_execution_time`` runs out.
            OutputValidationError: when the answer still does not fit *output_model*.
        """
        llm = self.llm or default_llm()
        task_tools = self.tools if tools is None else list(tools)
        messages = agent_messages(
            role=persona.role,
            goal=persona.goal,
            backstory=persona.backstory,
            description=description,
            expected_output=expected_output,
            context=context,
            output_schema=output_model.model_json_schema() if output_model else None,
        )
        # The agent's own events are labelled here and emitted around its step;
        # inside it, events carry its labels and nest under its started event.
        agent_id, role = self._id_text, persona.role
        started_id = (
            unheard_id(AgentExecutionStartedEvent)
            or (
                await emit(
                    self,
                    AgentExecutionStartedEvent(
                        agent_id=agent_id,
                        agent_role=role,
                        task_prompt=messages[-1]["content"],
                        tools=[t.name for t in task_tools],
                    ),
                )
            ).event_id
        )
        try:
            step = agent_step(agent_id, role, self, started_id)
            # Reading a pydantic private attribute costs microseconds: only if set.
            with step if self.max_rpm is None else runtime.bind_all(step, rate_limited(self._rpm)):
                if self.max_execution_time is None and output_model is None:
                    if task_tools:
                        text = await self._loop(llm, messages, task_tools)
                    else:  # one call, made here: a coroutine level less
                        response = await invoke_llm(llm, messages, source=self)
                        on_step = self._on_step()
                        text = (
                            final_answer(response.text)
                            if on_step is None
                            else await _finish(on_step, response.text)
                        )
                    answer = AgentAnswer(text)
                else:
                    answer = await self._run_with_deadline(
                        llm, messages, role, task_name, output_model, task_tools
                    )
        except anyio.get_cancelled_exc_class():
            await emit_shielded(
                self,
                AgentExecutionCancelledEvent(
                    started_event_id=started_id, agent_id=agent_id, agent_role=role
                ),
            )
            raise
        except Exception as exc:
            await emit(
                self,
                AgentExecutionErrorEvent(
                    error=describe_error(exc),
                    started_event_id=started_id,
                    agent_id=agent_id,
                    agent_role=role,
                ),
            )
            raise
        if runtime.wants(AgentExecutionCompletedEvent):
            await emit(
                self,
                AgentExecutionCompletedEvent(
                    output=answer.text,
                    started_event_id=started_id,
                    agent_id=agent_id,
                    agent_role=role,
                ),
            )
        return answer

    async def _run_with_deadline(
        self,
        llm: BaseLLM,
        messages: list[dict[str, Any]],
        role: str,
        task_name: str,
        output_model: type[BaseModel] | None,
        tools: list[BaseTool],
    ) -> AgentAnswer:
        if self.max_execution_time is None:
            return await self._answer(llm, messages, task_name, output_model, tools)
        with anyio.move_on_after(self.max_execution_time) as scope:
            return await self._answer(llm, messages, task_name, output_model, tools)
        assert scope.cancelled_caught
        raise AgentExecutionTimeoutError(role, task_name, self.max_execution_time)

    async def _answer(
        self,
        llm: BaseLLM,
        messages: list[dict[str, Any]],
        task_name: str,
        output_model: type[BaseModel] | None,
        tools: list[BaseTool],
    ) -> AgentAnswer:
        text = await self._loop(llm, messages, tools, output_model)
        if output_model is None:
            return AgentAnswer(text)
        for attempt in range(OUTPUT_RETRIES + 1):
            try:
                return AgentAnswer(text, parse_structured(text, output_model))
            except ValueError as problem:
                if attempt == OUTPUT_RETRIES:
                    raise OutputValidationError(
                        task_name, output_model.__name__, str(problem)
                    ) from None
                messages.append({"role": "assistant", "content": text})
                messages.append({"role": "user", "content": fix_output(str(problem))})
                response = await invoke_llm(
                    llm, messages, source=self, response_format=output_model
                )
                text = await _finish(self._on_step(), response.text)
        raise AssertionError("unreachable")  # pragma: no cover

    def _on_step(self) -> Callback | None:
        """This agent's step callback, else the crew's (None outside a kickoff)."""
        return self.step_callback or current_crew_callbacks().step

    async def _loop(
        self,
        llm: BaseLLM,
        messages: list[dict[str, Any]],
        tools: list[BaseTool],
        output_model: type[BaseModel] | None = None,
    ) -> str:
        # A provider that can enforce the output model's JSON shape is asked to, on
        # calls that need no tools; the answer is validated either way.
        on_step = self._on_step()
        if not tools:
            response = await invoke_llm(llm, messages, source=self, response_format=output_model)
            if on_step is None:
                return final_answer(response.text)
            return await _finish(on_step, response.text)
        belt = ToolBelt(tools, source=self)
        native = llm.supports_function_calling()
        if not native:
            messages[0] = {
                **messages[0],
                "content": messages[0]["content"]
                + "\n\n"
                + react_instructions(
                    [t.describe() for t in belt.tools], [t.name for t in belt.tools]
                ),
            }
        schemas = belt.schemas() if native else None
        for _ in range(self.max_iter):
            response = await invoke_llm(llm, messages, source=self, tools=schemas)
            if native:
                calls = response.tool_calls
            else:
                action = react_action(response.text)
                calls = (
                    [ToolCall(id="react", name=action[0], arguments=action[1])] if action else []
                )
            if not calls:
                return await _finish(on_step, response.text)
            outcomes = await belt.run_all(calls)
            if on_step is not None:
                thought = response.text.strip() if native else thought_of(response.text)
                for o in outcomes:
                    await call_user(
                        on_step,
                        AgentAction(
                            thought, o.call.name, o.call.arguments, response.text, o.observation
                        ),
                    )
            if native:
                messages.append(
                    {
                        "role": "assistant",
                        "content": response.text or None,
                        "tool_calls": [
                            {
                                "id": call.id,
                                "type": "function",
                                "function": {"name": call.name, "arguments": call.arguments},
                            }
                            for call in calls
                        ],
                    }
                )
                messages.extend(
                    {"role": "tool", "tool_call_id": o.call.id, "content": o.observation}
                    for o in outcomes
                )
            else:
                messages.append({"role": "assistant", "content": response.text})
                messages.append(
                    {"role": "user", "content": f"Observation: {outcomes[0].observation}"}
                )
            for outcome in outcomes:
                if outcome.as_answer:
                    return await _finish(on_step, response.text, str(outcome.result))
        # Out of steps: ask once more, without tools, for the final answer.
        messages.append({"role": "user", "content": OUT_OF_STEPS})
        response = await invoke_llm(llm, messages, source=self)
        return await _finish(on_step, response.text)


async def _finish(on_step: Callback | None, text: str, answer: str | None = None) -> str:
    """The final answer of a reply (or *answer*), after telling the step callback."""
    output = final_answer(text) if answer is None else answer
    if on_step is not None:
        await call_user(on_step, AgentFinish(thought_of(text), output, text))
    return output
