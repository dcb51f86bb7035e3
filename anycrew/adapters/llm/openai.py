"""OpenAI-compatible chat completions: OpenAI, Ollama, vLLM, llama.cpp, any base_url.

``LLM(model="openai/<name>")`` talks to ``POST {base_url}/chat/completions``; with
``base_url=`` (and ``api_key=`` if the server wants one) the same adapter serves any
compatible server. ``LLM(model="ollama/<name>")`` defaults to a local Ollama.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ...errors import ConfigurationError
from ...llms.adapter import LLMAdapter
from ...llms.types import Chunk, ChunkCallback, LLMResponse, Message, ToolCall
from . import _http
from ._http import ServerSentEvent

_PARAMETERS = [
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "seed",
    "timeout",
    "max_retries",
    "response_format",
    "extra_headers",
    "base_url",
    "api_key",
    "max_concurrency",
    "stream",
]


def _response_format(provider: str, value: Any) -> dict[str, Any] | None:
    """A ``response_format`` dict; a pydantic model class becomes a JSON schema format."""
    if value is None or isinstance(value, dict):
        return value
    schema = getattr(value, "model_json_schema", None)
    if isinstance(value, type) and callable(schema):
        return {
            "type": "json_schema",
            "json_schema": {"name": value.__name__, "schema": schema()},
        }
    raise ConfigurationError(
        f"{provider} response_format must be a dict such as {{'type': 'json_object'}} "
        f"or a pydantic model class, got {value!r}"
    )


def _text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a content list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(
        part.get("text", "") for part in content if isinstance(part, dict) and "text" in part
    )


def _arguments(value: Any) -> str:
    # Servers send the arguments as JSON text; a few send the object itself.
    if isinstance(value, str):
        return value or "{}"
    return json.dumps(value if value is not None else {})


@dataclass
class _PartialCall:
    """A tool call being streamed: parallel calls arrive interleaved, told apart by index."""

    id: str = ""
    name: str = ""
    pieces: list[str] = field(default_factory=list)


class _Stream:
    """Assembles a streamed chat completion from its ``chat.completion.chunk`` events."""

    def __init__(self, http: _http.ProviderHTTP) -> None:
        self._http = http
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._calls: dict[int, _PartialCall] = {}
        self._usage: dict[str, Any] = {}
        self._finish_reason: str | None = None
        self.finished = False

    async def on_event(self, event: ServerSentEvent, emit: ChunkCallback) -> bool:
        payload = self._http.decode_json(event.data, "a stream event that is not valid JSON")
        if not isinstance(payload, dict):
            raise self._http.malformed("a stream event that is not an object", event.data)
        if payload.get("error"):
            raise self._http.error(None, payload)
        if isinstance(payload.get("usage"), dict):
            self._usage = payload["usage"]
        for choice in payload.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if content := _text(delta.get("content")):
                self._text.append(content)
                await emit(Chunk(content))
            thinking = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(thinking, str) and thinking:
                self._thinking.append(thinking)
                await emit(Chunk(thinking, kind="thinking"))
            for position, call in enumerate(delta.get("tool_calls") or []):
                await self._tool_delta(position, call, emit)
            if choice.get("finish_reason"):
                self._finish_reason = str(choice["finish_reason"])
                self.finished = True
        # The usage chunk follows the finish reason; only [DONE] ends the stream.
        return False

    async def _tool_delta(self, position: int, call: Any, emit: ChunkCallback) -> None:
        if not isinstance(call, dict):
            raise self._http.malformed("a tool call delta that is not an object", str(call))
        index = call.get("index", position)
        partial = self._calls.setdefault(index, _PartialCall())
        if call.get("id"):
            partial.id = str(call["id"])
        function = call.get("function") or {}
        name = function.get("name")
        if name and name != partial.name:
            # The name comes whole in the first delta: a repeat is ignored, and only a
            # server splitting it would send a continuation.
            partial.name += name
        piece = function.get("arguments")
        piece = piece if isinstance(piece, str) else ("" if piece is None else json.dumps(piece))
        partial.pieces.append(piece)
        await emit(
            Chunk(
                piece,
                kind="tool_call",
                tool_call={
                    "index": index,
                    "id": partial.id,
                    "name": partial.name,
                    "arguments": piece,
                },
            )
        )

    def result(self) -> LLMResponse:
        tool_calls = []
        for index in sorted(self._calls):
            partial = self._calls[index]
            if not partial.name:
                raise self._http.malformed(
                    f"tool call {index} without a name", "".join(partial.pieces)
                )
            tool_calls.append(
                ToolCall(
                    id=partial.id or f"call_{index}",
                    name=partial.name,
                    arguments="".join(partial.pieces) or "{}",
                )
            )
        return _response(
            text="".join(self._text),
            thinking="".join(self._thinking),
            tool_calls=tool_calls,
            usage=self._usage,
            finish_reason=self._finish_reason,
            raw=None,
        )


def _response(
    *,
    text: str,
    thinking: str,
    tool_calls: list[ToolCall],
    usage: Any,
    finish_reason: str | None,
    raw: Any,
) -> LLMResponse:
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details") or {}
    return LLMResponse(
        text=text,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cached_prompt_tokens=int(details.get("cached_tokens") or 0),
        tool_calls=tool_calls,
        thinking=thinking,
        finish_reason=finish_reason,
        raw=raw,
    )


def _parse_completion(payload: Any) -> LLMResponse:
    choice = payload["choices"][0]
    message = choice["message"]
    thinking = message.get("reasoning_content") or message.get("reasoning") or ""
    tool_calls = [
        ToolCall(
            id=str(call.get("id") or f"call_{index}"),
            name=str(call["function"]["name"]),
            arguments=_arguments(call["function"].get("arguments")),
        )
        for index, call in enumerate(message.get("tool_calls") or [])
    ]
    return _response(
        text=_text(message.get("content")),
        thinking=thinking if isinstance(thinking, str) else "",
        tool_calls=tool_calls,
        usage=payload.get("usage"),
        finish_reason=choice.get("finish_reason"),
        raw=payload,
    )


class OpenAIAdapter(LLMAdapter):
    """Chat completions in OpenAI's wire format (``LLM(model="openai/<name>")``).

    Args:
        model_name: the model, as the server names it.
        temperature, top_p, max_tokens, stop, seed: sampling parameters, sent as given.
        response_format: a dict (``{"type": "json_object"}``, a ``json_schema``
            format) or a pydantic model class (sent as its JSON schema).
        timeout: seconds for connecting (at most 10), sending and each read
            (default 600).
        max_retries: retries of 429, 5xx and connection failures (default 2).
        max_concurrency: requests in flight at once per event loop to this endpoint
            (default 50); more wait their turn.
        extra_headers: headers sent with every request.
        base_url: the server (default ``https://api.openai.com/v1``).
        api_key: the key; defaults to the ``OPENAI_API_KEY`` environment variable.

    Raises:
        ConfigurationError: for a bad or unknown parameter, or a missing key.
    """

    provider = "openai"
    supports_tools = True
    default_base_url = "https://api.openai.com/v1"
    api_key_env: str | None = "OPENAI_API_KEY"
    key_required = True

    def __init__(
        self,
        model_name: str,
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        seed: int | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        response_format: Any = None,
        extra_headers: dict[str, str] | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        max_concurrency: int | None = None,
        **unknown: Any,
    ) -> None:
        super().__init__(model_name)
        name = self.provider
        _http.reject_unknown(name, unknown, _PARAMETERS)
        if not model_name:
            raise ConfigurationError(
                f"name the model after the prefix, e.g. LLM(model='{name}/<model name>')"
            )
        self._params: dict[str, Any] = {
            "temperature": _http.check_number(name, "temperature", temperature, low=0),
            "top_p": _http.check_number(name, "top_p", top_p, low=0, high=1),
            "max_tokens": _http.check_int(name, "max_tokens", max_tokens, low=1),
            "stop": _http.check_strings(name, "stop", stop),
            "seed": _http.check_int(name, "seed", seed),
            "response_format": _response_format(name, response_format),
        }
        self._params = {k: v for k, v in self._params.items() if v is not None}
        self.base_url = _http.check_base_url(name, base_url or self.default_base_url)
        key = _http.resolve_api_key(name, api_key, self.api_key_env, required=self.key_required)
        self._http = _http.ProviderHTTP.checked(
            name,
            model_name,
            base_url=self.base_url,
            timeout=timeout,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            headers={"User-Agent": _http.user_agent()},
            extra_headers=extra_headers,
            api_key=key,
            auth_header="Authorization",
            auth_prefix="Bearer ",
            key_hint=f"api_key= or {self.api_key_env}" if self.api_key_env else "api_key=",
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model_name!r}, base_url={self.base_url!r})"

    def _body(
        self,
        messages: list[Message],
        stream: bool,
        tools: list[dict[str, Any]] | None,
        response_format: type[BaseModel] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model_name, "messages": messages, **self._params}
        if tools:
            body["tools"] = tools
        if response_format is not None:
            body["response_format"] = _response_format(self.provider, response_format)
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    async def generate(
        self,
        messages: list[Message],
        *,
        stream: bool,
        on_chunk: ChunkCallback,
        tools: list[dict[str, Any]] | None = None,
        response_format: type[BaseModel] | None = None,
    ) -> LLMResponse:
        body = self._body(messages, stream, tools, response_format)
        if stream:
            return await self._http.post_stream(
                "/chat/completions", body, lambda: _Stream(self._http), on_chunk
            )
        return await self._http.post_json("/chat/completions", body, _parse_completion)


class OllamaAdapter(OpenAIAdapter):
    """A local Ollama through its OpenAI-compatible API (``LLM(model="ollama/<name>")``).

    Takes the parameters of :class:`OpenAIAdapter`; ``base_url`` defaults to
    ``http://localhost:11434/v1`` and no key is needed.
    """

    provider = "ollama"
    default_base_url = "http://localhost:11434/v1"
    api_key_env = None
    key_required = False
