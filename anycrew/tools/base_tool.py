"""BaseTool and the @tool decorator: what agents can call."""

from __future__ import annotations

import inspect
import json
import re
import weakref
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, create_model

from .. import runtime
from ..errors import ConfigurationError


def _always(_args: dict[str, Any], _result: Any) -> bool:
    return True


def _schema_from(func: Callable[..., Any], model_name: str) -> type[BaseModel]:
    """A pydantic model of *func*'s parameters (``self`` and ``*args``/``**kwargs`` skipped)."""
    fields: dict[str, Any] = {}
    for name, parameter in inspect.signature(func).parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        annotation = Any if parameter.annotation is parameter.empty else parameter.annotation
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[name] = (annotation, default)
    return create_model(model_name, **fields)


def function_name(name: str) -> str:
    """*name* as a function-calling identifier: lowercase letters, digits and ``_``."""
    return re.sub(r"[^a-z0-9_-]+", "_", name.strip().lower()).strip("_") or "tool"


# The JSON text of each args_schema's schema; weak keys, so a tool class made on the
# fly (say, @tool inside a function) goes away with its tools.
_SCHEMAS: weakref.WeakKeyDictionary[type[BaseModel], str] = weakref.WeakKeyDictionary()


def parameters_schema(model: type[BaseModel]) -> dict[str, Any]:
    """*model*'s JSON schema, built once per class; a fresh copy on every call."""
    text = _SCHEMAS.get(model)
    if text is None:
        text = _SCHEMAS[model] = json.dumps(model.model_json_schema())
    parameters: dict[str, Any] = json.loads(text)
    return parameters


class BaseTool(BaseModel):
    """A tool an agent may call.

    Subclass it and implement ``_run(self, **kwargs)`` (sync; runs in a worker
    thread, and should call ``anycrew.checkpoint()`` in long loops so a cancelled
    run can stop it) and/or ``async _arun(self, **kwargs)`` (awaited in the run).
    ``args_schema`` defaults to a model of ``_run``'s (or ``_arun``'s) parameters.

    Args:
        name: the tool's name, as the model sees it.
        description: what it does and when to use it.
        args_schema: a pydantic model of its arguments.
        result_as_answer: the tool's result becomes the agent's final answer.
        max_usage_count: how often the tool may be used in one kickoff.
        cache_function: ``(arguments, result) -> bool``, whether to cache a result
            (when the crew caches tool results, the default).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    name: str
    description: str
    args_schema: type[BaseModel] | None = None
    result_as_answer: bool = False
    max_usage_count: int | None = Field(default=None, ge=1)
    cache_function: Callable[[dict[str, Any], Any], bool] = _always
    _function_name: str = PrivateAttr(default="")

    def model_post_init(self, context: Any, /) -> None:
        cls = type(self)
        has_sync = cls._run is not BaseTool._run
        has_async = cls._arun is not BaseTool._arun
        if not (has_sync or has_async):
            raise ConfigurationError(
                f"tool {self.name!r} ({cls.__name__}) must implement _run() or async _arun()"
            )
        if not self.description.strip():
            raise ConfigurationError(
                f"tool {self.name!r} needs a description: it is how the model knows when to use it"
            )
        if self.args_schema is None:
            source = self._run if has_sync else self._arun
            self.args_schema = _schema_from(source, f"{cls.__name__}Arguments")
        self._function_name = function_name(self.name)

    @property
    def function_name(self) -> str:
        """The name used with native function calling (letters, digits, ``_``)."""
        return self._function_name

    @property
    def is_async(self) -> bool:
        """True if the tool is awaited in the run rather than run in a worker thread."""
        return type(self)._arun is not BaseTool._arun

    def _run(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def _arun(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def function_schema(self) -> dict[str, Any]:
        """The tool as an OpenAI-style function schema.

        The parameters' JSON schema is built once per ``args_schema`` class (pydantic
        takes a millisecond or two, and every step of an agent sends its tools'
        schemas); each call returns a fresh copy, free to change.
        """
        assert self.args_schema is not None
        return {
            "type": "function",
            "function": {
                "name": self.function_name,
                "description": self.description,
                "parameters": parameters_schema(self.args_schema),
            },
        }

    def describe(self) -> str:
        """One line for a text prompt: name, arguments and description."""
        assert self.args_schema is not None
        arguments = ", ".join(
            f"{name}: {getattr(field.annotation, '__name__', str(field.annotation))}"
            for name, field in self.args_schema.model_fields.items()
        )
        return f"{self.name}({arguments}): {self.description}"

    async def ainvoke(self, arguments: dict[str, Any]) -> Any:
        """Run the tool with validated *arguments* inside the current run."""
        if self.is_async:
            return await self._arun(**arguments)
        result = await runtime.run_sync_in_run(partial(self._run, **arguments))
        if inspect.isawaitable(result):  # a sync wrapper around something async
            result = await result
        return result

    def run(self, **kwargs: Any) -> Any:
        """Call the tool directly, outside any agent (sync tools in this thread)."""
        if self.is_async:
            return runtime.run_blocking(partial(self._arun, **kwargs), entry_name="run")
        return self._run(**kwargs)


class Tool(BaseTool):
    """A tool made from a function by :func:`tool`."""

    func: Callable[..., Any]

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)

    def model_post_init(self, context: Any, /) -> None:
        if self.args_schema is None:
            self.args_schema = _schema_from(self.func, f"{function_name(self.name)}_arguments")
        super().model_post_init(context)

    def _run(self, **kwargs: Any) -> Any:
        return self.func(**kwargs)

    async def _arun(self, **kwargs: Any) -> Any:
        result = self.func(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


@overload
def tool(name: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    name: str | None = None,
    /,
    *,
    result_as_answer: bool = False,
    max_usage_count: int | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    name: str | Callable[..., Any] | None = None,
    /,
    *,
    result_as_answer: bool = False,
    max_usage_count: int | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a tool of a sync or async function; its docstring is the description.

    Use it bare (``@tool``, the function's name is the tool's name) or with a name
    (``@tool("Web search")``). The arguments' schema comes from the signature.

    Raises:
        ConfigurationError: if the function has no docstring.
    """

    def make(func: Callable[..., Any] | Callable[..., Awaitable[Any]], tool_name: str) -> Tool:
        description = inspect.getdoc(func) or ""
        if not description.strip():
            raise ConfigurationError(
                f"@tool function {func.__name__!r} needs a docstring: it becomes the tool's "
                "description, which is how the model knows when to use it"
            )
        return Tool(
            name=tool_name,
            description=description,
            func=func,
            result_as_answer=result_as_answer,
            max_usage_count=max_usage_count,
        )

    if callable(name):
        return make(name, name.__name__)

    def decorator(func: Callable[..., Any]) -> Tool:
        return make(func, name or func.__name__)

    return decorator
