"""anycrew's exceptions.

Everything anycrew raises on purpose derives from :class:`AnyCrewError`, and where a
built-in type says more it derives from that too, so ``except ValueError`` and
``except TimeoutError`` keep working::

    AnyCrewError
    ├── InvalidInputError (ValueError)       bad kickoff inputs, missing {placeholders}
    ├── ConfigurationError (ValueError)      bad construction arguments, unknown model
    ├── OutputValidationError (ValueError)   an answer never fit the task's output model
    ├── CallbackError (TypeError)            a callback returned what anycrew cannot use
    ├── OutputFileError (OSError)            a task's output_file could not be written
    ├── GuardrailError                       a task's output kept failing a guardrail
    ├── GuardrailResultError (TypeError)     a guardrail returned something unusable
    ├── ReplayError (ValueError)             no stored kickoff to replay a task from
    ├── TaskOutputStorageError               the kickoff task-output store failed
    ├── ExecutionTimeoutError (TimeoutError)
    │   └── AgentExecutionTimeoutError       an agent's max_execution_time ran out
    ├── CallBlockedError                     a before-call hook returned False
    │   ├── LLMCallBlockedError (ValueError) ... before an LLM call (ValueError as in CrewAI)
    │   └── ToolCallBlockedError             ... before a tool call
    ├── DelegationError (ValueError)         a delegation tool could not reach a coworker
    └── LLMError                             an LLM call failed
        ├── LLMResponseError                 the reply could not be used (malformed JSON,
        │                                    an unexpected shape)
        ├── ProviderError                    the provider answered with an error
        │   ├── AuthenticationError          HTTP 401/403: a missing, wrong or revoked key
        │   └── RateLimitError               HTTP 429, after the retries ran out
        ├── LLMTimeoutError (TimeoutError)   connecting, sending or reading took too long
        └── LLMConnectionError               the provider could not be reached
            └── StreamInterruptedError       a streamed reply was cut off part-way

Errors about a provider carry its own message where it sent one, never the API key
or the request's authentication headers.

Cancellation is never turned into one of these: it propagates as the backend's own
cancellation exception.
"""

from __future__ import annotations

from typing import Any, TypeVar


class AnyCrewError(Exception):
    """Base class of every error anycrew raises on purpose."""


_E = TypeVar("_E", bound=AnyCrewError)


class InvalidInputError(AnyCrewError, ValueError):
    """Kickoff inputs are malformed or miss a ``{placeholder}`` a task or agent needs."""


class ConfigurationError(AnyCrewError, ValueError):
    """An object was configured with arguments that cannot work."""


class OutputValidationError(AnyCrewError, ValueError):
    """A task's answer did not fit its ``output_pydantic`` / ``output_json`` model.

    Attributes:
        task_name: the task's name (or the start of its description).
        model_name: the output model's class name.
        problem: what was wrong with the last answer.
    """

    def __init__(self, task_name: str, model_name: str, problem: str) -> None:
        super().__init__(
            f"the answer to task {task_name!r} does not fit {model_name} after retries: "
            f"{problem}; make the expected output clearer or the model simpler"
        )
        self.task_name = task_name
        self.model_name = model_name
        self.problem = problem


class ExecutionTimeoutError(AnyCrewError, TimeoutError):
    """A deadline ran out."""


class AgentExecutionTimeoutError(ExecutionTimeoutError):
    """An agent exceeded its ``max_execution_time`` on a task.

    Attributes:
        agent_role: the agent's role.
        task_name: the task's name (or the start of its description).
        timeout: the limit, in seconds.
    """

    def __init__(self, agent_role: str, task_name: str, timeout: float) -> None:
        super().__init__(
            f"agent {agent_role!r} exceeded its max_execution_time of {timeout:g}s "
            f"on task {task_name!r}; raise max_execution_time or simplify the task"
        )
        self.agent_role = agent_role
        self.task_name = task_name
        self.timeout = timeout


class CallBlockedError(AnyCrewError):
    """A before-call hook returned False, so the call did not happen.

    Attributes:
        hook_name: the qualified name of the hook that blocked the call.
        agent_role: the role of the agent that made the call, if an agent made it.
    """

    def __init__(self, message: str, *, hook_name: str, agent_role: str | None) -> None:
        super().__init__(message)
        self.hook_name = hook_name
        self.agent_role = agent_role

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments: rebuild from args and attributes (see LLMError).
        return (_rebuild, (type(self), self.args, dict(vars(self))))


class LLMCallBlockedError(CallBlockedError, ValueError):
    """A ``before_llm_call`` hook blocked an LLM call.

    A ValueError too, as the error CrewAI raises for a blocked call is.

    Attributes:
        model: the model string of the LLM that was not called.
    """

    def __init__(self, *, hook_name: str, model: str, agent_role: str | None) -> None:
        by = f" by agent {agent_role!r}" if agent_role else ""
        super().__init__(
            f"before_llm_call hook {hook_name!r} blocked the call to {model!r}{by} "
            "(it returned False); change the hook, or its agents= filter, to allow it",
            hook_name=hook_name,
            agent_role=agent_role,
        )
        self.model = model


class ToolCallBlockedError(CallBlockedError):
    """A ``before_tool_call`` hook blocked a tool call.

    Attributes:
        tool_name: the name of the tool that was not run.
    """

    def __init__(self, *, hook_name: str, tool_name: str, agent_role: str | None) -> None:
        by = f" by agent {agent_role!r}" if agent_role else ""
        super().__init__(
            f"before_tool_call hook {hook_name!r} blocked the call to tool {tool_name!r}{by} "
            "(it returned False); change the hook, or its tools=/agents= filters, to allow it",
            hook_name=hook_name,
            agent_role=agent_role,
        )
        self.tool_name = tool_name


class LLMError(AnyCrewError):
    """An LLM call failed."""

    def __reduce__(self) -> tuple[Any, ...]:
        # The subclasses take keyword-only arguments, which the default reduction
        # (``cls(*args)``) drops; rebuild from args and attributes so that pickle and
        # copy work for every LLM error.
        return (_rebuild, (type(self), self.args, dict(vars(self))))


def _rebuild(cls: type[_E], args: tuple[Any, ...], state: dict[str, Any]) -> _E:
    error = cls.__new__(cls)
    error.args = args
    vars(error).update(state)
    return error


class LLMResponseError(LLMError):
    """The model's reply could not be used.

    Attributes:
        provider: the provider's name (``"openai"``, ...), when a provider sent it.
        provider_message: what the provider said about it, if anything.
        excerpt: the start of the offending reply, for diagnosis.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        provider_message: str | None = None,
        excerpt: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.provider_message = provider_message
        self.excerpt = excerpt


class ProviderError(LLMError):
    """The provider answered a request with an error.

    Attributes:
        provider: the provider's name (``"openai"``, ``"anthropic"``, ...).
        status_code: the HTTP status, or ``None`` for an error sent inside a stream.
        provider_message: the provider's own description of the error.
        error_type: the provider's error type or code, when it sent one.
        retry_after: seconds the provider asked to wait before trying again, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None,
        provider_message: str,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        self.provider_message = provider_message
        self.error_type = error_type
        self.retry_after = retry_after


class AuthenticationError(ProviderError):
    """The provider refused the credentials (HTTP 401 or 403)."""


class RateLimitError(ProviderError):
    """The provider kept answering HTTP 429 (too many requests) until the retries ran out."""


class LLMTimeoutError(LLMError, TimeoutError):
    """A request to a provider took longer than its ``timeout``.

    Attributes:
        provider: the provider's name.
        phase: what ran out of time: ``"connect"``, ``"write"``, ``"read"`` or ``"pool"``.
    """

    def __init__(self, message: str, *, provider: str, phase: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.phase = phase


class LLMConnectionError(LLMError):
    """The provider could not be reached, or the connection broke.

    Attributes:
        provider: the provider's name.
    """

    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message)
        self.provider = provider


class StreamInterruptedError(LLMConnectionError):
    """A streamed reply stopped before the provider finished it.

    Attributes:
        provider: the provider's name.
        received: how many characters of the reply had arrived (text, thinking and
            tool arguments) before the stream broke.
    """

    def __init__(self, message: str, *, provider: str, received: int) -> None:
        super().__init__(message, provider=provider)
        self.received = received


class CallbackError(AnyCrewError, TypeError):
    """A callback returned something anycrew cannot use.

    For example a ``before_kickoff_callbacks`` entry that returns a string instead of
    the inputs dict. A callback that raises fails the kickoff with its own error.
    """


class OutputFileError(AnyCrewError, OSError):
    """A task's output could not be written to its ``output_file``.

    Raised from the underlying OSError, if there was one; the file is either
    written whole or left as it was.
    """


class GuardrailError(AnyCrewError):
    """A task's output still failed one of its guardrails when the retries ran out.

    Attributes:
        task_name: the task's name (or the start of its description).
        guardrail: the guardrail's name (a function's name, or an LLM guardrail's text).
        retries: how many times the agent was asked to try again for this guardrail.
        last_error: what the guardrail said about the last output.
    """

    def __init__(self, task_name: str, guardrail: str, retries: int, last_error: str) -> None:
        super().__init__(
            f"task {task_name!r} failed guardrail {guardrail!r} after {retries} "
            f"retr{'y' if retries == 1 else 'ies'}; last message: {last_error}. Make the task "
            "description say what the guardrail checks, or raise guardrail_max_retries"
        )
        self.task_name = task_name
        self.guardrail = guardrail
        self.retries = retries
        self.last_error = last_error


class GuardrailResultError(AnyCrewError, TypeError):
    """A guardrail returned something other than ``(bool, value)``, or ``(True, None)``."""


class ReplayError(AnyCrewError, ValueError):
    """A crew cannot be replayed from the task asked for.

    Raised before anything runs: no stored kickoff has that task (run ``kickoff()``
    first), or the stored kickoff does not fit the crew (a different number of tasks,
    a task in another position, a stored structured output that no longer validates).

    Attributes:
        task_id: the task id given to ``replay``.
    """

    def __init__(self, message: str, *, task_id: str) -> None:
        super().__init__(message)
        self.task_id = task_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(vars(self))))


class TaskOutputStorageError(AnyCrewError):
    """The store of kickoff task outputs could not be read or written.

    The SQLite or OS error is the ``__cause__``. A kickoff never fails because its
    outputs could not be stored: that is logged (logger ``anycrew.storage``) instead.
    """


class DelegationError(AnyCrewError, ValueError):
    """A delegation tool could not hand a request to a coworker.

    The agent that called the tool sees the message as the tool's observation and
    can fix its call: an unknown coworker (the message lists the valid roles), a
    request that would go back to an agent already working on it, or a chain of
    delegations deeper than the limit.
    """
