"""Anthropic's messages API (``LLM(model="anthropic/<name>")``).

The engine speaks OpenAI-style messages and tool schemas; this module translates
them: system messages become the top-level ``system``, tool schemas become
``tools`` with an ``input_schema``, assistant ``tool_calls`` become ``tool_use``
blocks and ``tool`` messages become ``tool_result`` blocks in a user turn. Replies
come back as text, ``thinking`` and ``tool_use`` blocks, streamed or whole.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from ...errors import ConfigurationError, InvalidInputError
from ...llms.adapter import LLMAdapter
from ...llms.types import Chunk, ChunkCallback, LLMResponse, Message, ToolCall
from . import _http
from ._http import ServerSentEvent

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
_PARAMETERS = [
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "stop",
    "thinking",
    "timeout",
    "max_retries",
    "extra_headers",
    "base_url",
    "api_key",
    "max_concurrency",
    "stream",
]
# The HTTP status Anthropic documents for each error type, so that an error sent
# inside a stream is classified (and retried) like the same error sent as a status.
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def _blocks(content: Any) -> list[dict[str, Any]]:
    """Message content as Anthropic content blocks (OpenAI content parts translated)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            blocks.append({"type": "text", "text": str(part)})
        elif part.get("type") == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = str(image.get("url", "")) if isinstance(image, dict) else str(image or "")
            if url.startswith("data:") and ";base64," in url:
                media_type, _, data = url[len("data:") :].partition(";base64,")
                source = {"type": "base64", "media_type": media_type, "data": data}
            else:
                source = {"type": "url", "url": url}
            blocks.append({"type": "image", "source": source})
        else:
            blocks.append(part)  # already an Anthropic block
    return blocks


def _tool_input(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments or "{}")
    except (TypeError, ValueError):
        value = None
    # tool_use input must be an object; keep unparseable arguments visible to the model.
    return value if isinstance(value, dict) else {"arguments": arguments}


def translate_messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """Split OpenAI-style *messages* into Anthropic's ``system`` and ``messages``.

    Consecutive turns of one role are merged (tool results for parallel calls must
    share one user turn).

    Raises:
        InvalidInputError: for a role Anthropic has no place for.
    """
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system.extend(b["text"] for b in _blocks(content) if b.get("type") == "text")
            continue
        if role == "tool":
            role = "user"
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id", ""),
                "content": _blocks(content) or "",
            }
            blocks = [result]
        elif role == "assistant":
            blocks = _blocks(content)
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id", ""),
                        "name": function.get("name", ""),
                        "input": _tool_input(function.get("arguments")),
                    }
                )
        elif role == "user":
            blocks = _blocks(content)
        else:
            raise InvalidInputError(
                f"message {position} has role {role!r}, which the anthropic provider cannot "
                "send; use system, user, assistant or tool"
            )
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return ("\n\n".join(system) or None), turns


def translate_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI function schemas as Anthropic tools (Anthropic-shaped tools pass through)."""
    translated = []
    for tool in tools:
        function = tool.get("function") if tool.get("type") == "function" else None
        if function is None:
            translated.append(tool)
            continue
        entry: dict[str, Any] = {
            "name": function["name"],
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            entry["description"] = function["description"]
        translated.append(entry)
    return translated


def _response(
    *,
    text: str,
    thinking: str,
    tool_calls: list[ToolCall],
    usage: dict[str, Any],
    stop_reason: str | None,
    raw: Any,
) -> LLMResponse:
    cached = int(usage.get("cache_read_input_tokens") or 0)
    # Anthropic counts cached and cache-writing prompt tokens apart from input_tokens;
    # anycrew's prompt_tokens is the whole prompt, as OpenAI counts it.
    prompt = (
        int(usage.get("input_tokens") or 0)
        + cached
        + int(usage.get("cache_creation_input_tokens") or 0)
    )
    return LLMResponse(
        text=text,
        prompt_tokens=prompt,
        completion_tokens=int(usage.get("output_tokens") or 0),
        cached_prompt_tokens=cached,
        tool_calls=tool_calls,
        thinking=thinking,
        finish_reason=stop_reason,
        raw=raw,
    )


def _parse_message(payload: Any) -> LLMResponse:
    text: list[str] = []
    thinking: list[str] = []
    tool_calls: list[ToolCall] = []
    for block in payload["content"]:
        kind = block["type"]
        if kind == "text":
            text.append(block["text"])
        elif kind == "thinking":
            thinking.append(block.get("thinking", ""))
        elif kind == "tool_use":
            tool_calls.append(
                ToolCall(id=block["id"], name=block["name"], arguments=json.dumps(block["input"]))
            )
    return _response(
        text="".join(text),
        thinking="".join(thinking),
        tool_calls=tool_calls,
        usage=payload.get("usage") or {},
        stop_reason=payload.get("stop_reason"),
        raw=payload,
    )


class _Stream:
    """Assembles a streamed message from Anthropic's events."""

    def __init__(self, http: _http.ProviderHTTP) -> None:
        self._http = http
        self._text: list[str] = []
        self._thinking: list[str] = []
        # content block index -> [id, name, json pieces] for tool_use blocks, in order.
        self._calls: dict[int, tuple[str, str, list[str]]] = {}
        self._usage: dict[str, Any] = {}
        self._stop_reason: str | None = None
        self.finished = False

    async def on_event(self, event: ServerSentEvent, emit: ChunkCallback) -> bool:
        payload = self._http.decode_json(event.data, "a stream event that is not valid JSON")
        if not isinstance(payload, dict):
            raise self._http.malformed("a stream event that is not an object", event.data)
        kind = payload.get("type", event.event)
        if kind == "message_start":
            self._usage.update(payload["message"].get("usage") or {})
        elif kind == "content_block_start":
            block = payload["content_block"]
            if block["type"] == "tool_use":
                ordinal = len(self._calls)
                self._calls[payload["index"]] = (block["id"], block["name"], [])
                await emit(self._tool_chunk(ordinal, block["id"], block["name"], ""))
            elif block["type"] == "text" and block.get("text"):
                self._text.append(block["text"])
                await emit(Chunk(block["text"]))
        elif kind == "content_block_delta":
            await self._delta(payload["index"], payload["delta"], emit)
        elif kind == "message_delta":
            self._usage.update(payload.get("usage") or {})
            self._stop_reason = (payload.get("delta") or {}).get("stop_reason")
        elif kind == "message_stop":
            self.finished = True
        elif kind == "error":
            error = payload.get("error") or {}
            raise self._http.error(_ERROR_STATUS.get(str(error.get("type"))), payload)
        # ping, content_block_stop and event types added later need nothing here.
        return self.finished

    async def _delta(self, index: int, delta: dict[str, Any], emit: ChunkCallback) -> None:
        kind = delta.get("type")
        if kind == "text_delta" and delta["text"]:
            self._text.append(delta["text"])
            await emit(Chunk(delta["text"]))
        elif kind == "thinking_delta" and delta["thinking"]:
            self._thinking.append(delta["thinking"])
            await emit(Chunk(delta["thinking"], kind="thinking"))
        elif kind == "input_json_delta":
            call_id, name, pieces = self._calls[index]
            piece = delta.get("partial_json") or ""
            pieces.append(piece)
            ordinal = list(self._calls).index(index)
            await emit(self._tool_chunk(ordinal, call_id, name, piece))

    @staticmethod
    def _tool_chunk(ordinal: int, call_id: str, name: str, piece: str) -> Chunk:
        return Chunk(
            piece,
            kind="tool_call",
            tool_call={"index": ordinal, "id": call_id, "name": name, "arguments": piece},
        )

    def result(self) -> LLMResponse:
        return _response(
            text="".join(self._text),
            thinking="".join(self._thinking),
            tool_calls=[
                ToolCall(id=call_id, name=name, arguments="".join(pieces) or "{}")
                for call_id, name, pieces in self._calls.values()
            ],
            usage=self._usage,
            stop_reason=self._stop_reason,
            raw=None,
        )


_ANSWER_TOOL = "final_answer"


def _answer_tool(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "name": _ANSWER_TOOL,
        "description": f"Give the final answer as a {model.__name__} object.",
        "input_schema": model.model_json_schema(),
    }


def _answer_from_tool(response: LLMResponse) -> LLMResponse:
    """Move the forced answer tool's input into the reply's text."""
    answers = [call for call in response.tool_calls if call.name == _ANSWER_TOOL]
    if not answers:
        return response
    response.text = answers[0].arguments
    response.tool_calls = [call for call in response.tool_calls if call.name != _ANSWER_TOOL]
    return response


class AnthropicAdapter(LLMAdapter):
    """Anthropic's messages API (``LLM(model="anthropic/<name>")``).

    Args:
        model_name: the model, e.g. ``claude-sonnet-4-5``.
        temperature, top_p, top_k: sampling parameters, sent as given.
        max_tokens: the reply's length limit, which Anthropic requires (default 4096).
        stop: stop sequences (sent as ``stop_sequences``).
        thinking: extended thinking, e.g. ``{"type": "enabled", "budget_tokens": 2048}``.
        timeout: seconds for connecting (at most 10), sending and each read
            (default 600).
        max_retries: retries of 429, 5xx, overload and connection failures (default 2).
        max_concurrency: requests in flight at once per event loop to this endpoint
            (default 50); more wait their turn.
        extra_headers: headers sent with every request (``anthropic-beta``, ...).
        base_url: the server (default ``https://api.anthropic.com``).
        api_key: the key; defaults to the ``ANTHROPIC_API_KEY`` environment variable.

    Raises:
        ConfigurationError: for a bad or unknown parameter, or a missing key.
    """

    provider = "anthropic"
    supports_tools = True
    default_base_url = "https://api.anthropic.com"
    api_key_env = "ANTHROPIC_API_KEY"

    def __init__(
        self,
        model_name: str,
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        thinking: dict[str, Any] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
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
                "name the model after the prefix, e.g. LLM(model='anthropic/claude-sonnet-4-5')"
            )
        if thinking is not None and not isinstance(thinking, dict):
            raise ConfigurationError(
                f"{name} thinking must be a dict such as "
                f"{{'type': 'enabled', 'budget_tokens': 2048}}, got {thinking!r}"
            )
        params: dict[str, Any] = {
            "max_tokens": _http.check_int(name, "max_tokens", max_tokens, low=1)
            or DEFAULT_MAX_TOKENS,
            "temperature": _http.check_number(name, "temperature", temperature, low=0),
            "top_p": _http.check_number(name, "top_p", top_p, low=0, high=1),
            "top_k": _http.check_int(name, "top_k", top_k, low=1),
            "stop_sequences": _http.check_strings(name, "stop", stop),
            "thinking": thinking,
        }
        self._params = {k: v for k, v in params.items() if v is not None}
        self.base_url = _http.check_base_url(name, base_url or self.default_base_url)
        key = _http.resolve_api_key(name, api_key, self.api_key_env, required=True)
        self._http = _http.ProviderHTTP.checked(
            name,
            model_name,
            base_url=self.base_url,
            timeout=timeout,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            headers={"User-Agent": _http.user_agent(), "anthropic-version": API_VERSION},
            extra_headers=extra_headers,
            api_key=key,
            auth_header="x-api-key",
            key_hint=f"api_key= or {self.api_key_env}",
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model_name!r}, base_url={self.base_url!r})"

    async def generate(
        self,
        messages: list[Message],
        *,
        stream: bool,
        on_chunk: ChunkCallback,
        tools: list[dict[str, Any]] | None = None,
        response_format: type[BaseModel] | None = None,
    ) -> LLMResponse:
        system, turns = translate_messages(messages)
        body: dict[str, Any] = {"model": self.model_name, "messages": turns, **self._params}
        if system:
            body["system"] = system
        if tools:
            body["tools"] = translate_tools(tools)
        if response_format is not None:
            # Anthropic has no JSON response format: force a tool whose input schema
            # is the model's, and hand its input back as the reply's text.
            body["tools"] = [*body.get("tools", []), _answer_tool(response_format)]
            body["tool_choice"] = {"type": "tool", "name": _ANSWER_TOOL}
        if stream:
            body["stream"] = True
            response = await self._http.post_stream(
                "/v1/messages", body, lambda: _Stream(self._http), on_chunk
            )
        else:
            response = await self._http.post_json("/v1/messages", body, _parse_message)
        return _answer_from_tool(response) if response_format is not None else response
