"""anycrew's exceptions.

Everything anycrew raises on purpose derives from :class:`AnyCrewError`, and where a
built-in type says more it derives from that too, so ``except ValueError`` and
``except TimeoutError`` keep working::

    AnyCrewError
    ├── InvalidInputError (ValueError)       bad kickoff inputs, missing {placeholders}
    ├── ConfigurationError (ValueError)      bad construction arguments, unknown model
    ├── ExecutionTimeoutError (TimeoutError)
    │   └── AgentExecutionTimeoutError       an agent's max_execution_time ran out
    └── LLMError                             an LLM call failed
        └── LLMResponseError                 the model's reply could not be used

Cancellation is never turned into one of these: it propagates as the backend's own
cancellation exception.
"""

from __future__ import annotations


class AnyCrewError(Exception):
    """Base class of every error anycrew raises on purpose."""


class InvalidInputError(AnyCrewError, ValueError):
    """Kickoff inputs are malformed or miss a ``{placeholder}`` a task or agent needs."""


class ConfigurationError(AnyCrewError, ValueError):
    """An object was configured with arguments that cannot work."""


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


class LLMError(AnyCrewError):
    """An LLM call failed."""


class LLMResponseError(LLMError):
    """The model's reply could not be used."""
