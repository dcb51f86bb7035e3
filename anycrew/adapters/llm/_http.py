"""The HTTP plumbing every provider adapter shares; vendor modules import only this.

* :class:`ProviderHTTP` sends an adapter's requests through the pooled client and
  the concurrency limiter of its endpoint and event loop (see ``_pool.py`` for the
  pooling, the limits and how clients close with their loop).
* Retries (:class:`RetryPolicy`): HTTP 429 and 5xx, connection failures and connect
  timeouts are retried with jittered exponential backoff, honouring Retry-After.
  Other 4xx, read timeouts (the model may be generating, and billing) and a stream
  that already delivered a chunk are not. The limiter token is returned during the
  wait, which is a cancellable ``anyio.sleep``.
* Errors: httpx's exceptions become anycrew's at this boundary (``raise ... from``);
  error bodies become :class:`ProviderError` subclasses carrying the provider's
  own message.
* Secrets: API keys and sensitive headers are :class:`Secret` values, put on each
  request only, and masked in every message and error raised here.
* Streams: bodies are read as server-sent events (:class:`SSEDecoder`) and handed
  to the vendor's :class:`StreamHandler`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import anyio
import httpx

from ...errors import (
    AuthenticationError,
    LLMConnectionError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    ProviderError,
    RateLimitError,
    StreamInterruptedError,
)
from ...llms.types import Chunk, ChunkCallback
from ._params import MASK, display_url
from ._params import Secret as Secret
from ._params import check_base_url as check_base_url
from ._params import check_headers as check_headers
from ._params import check_int as check_int
from ._params import check_number as check_number
from ._params import check_strings as check_strings
from ._params import reject_unknown as reject_unknown
from ._params import resolve_api_key as resolve_api_key
from ._params import user_agent as user_agent
from ._pool import CONNECT_TIMEOUT, BodyReader, close_response, pool_for
from ._pool import DEFAULT_MAX_CONCURRENCY as DEFAULT_MAX_CONCURRENCY
from ._pool import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from ._pool import Endpoint as Endpoint
from ._pool import aclose_clients as aclose_clients
from ._retry import RetryPolicy as RetryPolicy
from ._retry import parse_retry_after as parse_retry_after
from ._retry import retry_after_from_headers as retry_after_from_headers
from ._sse import ServerSentEvent as ServerSentEvent
from ._sse import SSEDecoder as SSEDecoder

logger = logging.getLogger("anycrew.llm")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

DEFAULT_MAX_RETRIES = 2
_END_GRACE = 0.5
_EXCERPT = 200
# Extra headers whose names look like credentials are treated as secrets.
_SENSITIVE_HEADER = re.compile(r"auth|key|token|secret|cookie|session|passw", re.IGNORECASE)
# What reading a JSON reply of an unexpected shape raises.
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)
_TIMEOUT_PHASES: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}


class StreamHandler(Protocol[T_co]):
    """Turns one provider's server-sent events into chunks and a final result."""

    @property
    def finished(self) -> bool:
        """Whether the reply is complete, so that the body may end here."""
        ...

    async def on_event(self, event: ServerSentEvent, emit: ChunkCallback) -> bool:
        """Handle one event, awaiting *emit* for each chunk it yields.

        Returns whether it was the provider's final event (nothing more to read).
        """
        ...

    def result(self) -> T_co:
        """The whole reply, once the stream has ended."""
        ...


@dataclass(slots=True)
class _Progress:
    chunks: int = 0
    chars: int = 0


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."


def _error_details(payload: Any) -> tuple[str | None, str | None]:
    """The message and type of an error body in the shapes providers use."""
    if not isinstance(payload, dict):
        return None, None
    error = payload.get("error")
    if isinstance(error, dict):
        message, kind = error.get("message"), error.get("type") or error.get("code")
    elif isinstance(error, str):
        message, kind = error, None
    else:
        message, kind = payload.get("message") or payload.get("detail"), payload.get("type")
    return (
        str(message) if message not in (None, "") else None,
        str(kind) if kind not in (None, "") else None,
    )


class ProviderHTTP:
    """Sends one adapter's requests: pooled, limited, retried, translated, secret-free.

    Args:
        provider: the provider's name, used in messages (``"openai"``, ...).
        model: the model name, used in messages.
        base_url: the API's base URL.
        timeout: seconds allowed for connecting (at most 10), sending, and each read.
        max_concurrency: requests in flight at once per event loop for this endpoint.
        max_retries: retries of a failed request (see the module docstring).
        headers: fixed, non-secret headers of the provider.
        extra_headers: the user's headers; those whose names look like credentials
            are treated as secrets.
        api_key: the key, sent as ``auth_header: auth_prefix + key`` when given.
        key_hint: where the key comes from, for authentication errors.
    """

    @classmethod
    def checked(
        cls,
        provider: str,
        model: str,
        *,
        base_url: str,
        timeout: Any,
        max_concurrency: Any,
        max_retries: Any,
        headers: Mapping[str, str],
        extra_headers: Any,
        api_key: Secret | None,
        auth_header: str,
        auth_prefix: str = "",
        key_hint: str = "api_key=",
    ) -> ProviderHTTP:
        """Build it from the user's raw parameters, checking each (None: the default).

        Raises:
            ConfigurationError: naming the parameter that is out of range.
        """
        if timeout is not None:
            timeout = check_number(provider, "timeout", timeout, above=0)
        if max_retries is not None:
            max_retries = check_int(provider, "max_retries", max_retries, low=0)
        if max_concurrency is not None:
            max_concurrency = check_int(provider, "max_concurrency", max_concurrency, low=1)
        return cls(
            provider,
            model,
            base_url=base_url,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            max_concurrency=max_concurrency or DEFAULT_MAX_CONCURRENCY,
            max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
            headers=headers,
            extra_headers=check_headers(provider, extra_headers),
            api_key=api_key,
            auth_header=auth_header,
            auth_prefix=auth_prefix,
            key_hint=key_hint,
        )

    def __init__(
        self,
        provider: str,
        model: str,
        *,
        base_url: str,
        timeout: float,
        max_concurrency: int,
        max_retries: int,
        headers: Mapping[str, str],
        extra_headers: Mapping[str, str],
        api_key: Secret | None,
        auth_header: str,
        auth_prefix: str = "",
        key_hint: str = "api_key=",
    ) -> None:
        self.provider = provider
        self.model = model
        self.retry = RetryPolicy(max_retries=max_retries)
        self._where = display_url(base_url)
        self._key_hint = key_hint
        public = dict(headers)
        self._secret_headers: dict[str, Secret] = {}
        for name, value in extra_headers.items():
            if _SENSITIVE_HEADER.search(name):
                self._secret_headers[name] = Secret(value)
            else:
                public[name] = value
        if api_key is not None:
            self._secret_headers[auth_header] = Secret(auth_prefix + api_key.reveal())
        # The bare key first: it also masks the header value that embeds it.
        self._secrets = [api_key] if api_key is not None else []
        self._secrets += self._secret_headers.values()
        password = httpx.URL(base_url).password
        if password:
            self._secrets.append(Secret(password))
        self.endpoint = Endpoint(
            base_url=base_url,
            timeout=timeout,
            max_concurrency=max_concurrency,
            headers=tuple(sorted(public.items())),
        )

    def __repr__(self) -> str:
        return f"ProviderHTTP({self.provider!r}, base_url={self._where!r})"

    def scrub(self, text: str) -> str:
        """*text* with every secret of this adapter masked."""
        for secret in self._secrets:
            if value := secret.reveal():
                text = text.replace(value, MASK)
        return text

    # -- building errors (also used by the vendor modules) --------------------------

    def error(
        self, status: int | None, payload: Any, text: str = "", *, retry_after: float | None = None
    ) -> ProviderError:
        """A :class:`ProviderError` (or subclass, by *status*) for an error body."""
        message, error_type = _error_details(payload)
        message = self.scrub(message or _excerpt(text) or "no message")
        cls: type[ProviderError] = ProviderError
        hint = ""
        if status in (401, 403):
            cls, hint = AuthenticationError, f"; check the API key ({self._key_hint})"
        elif status == 429:
            cls = RateLimitError
            if retry_after is not None:
                hint = f"; the provider asks to retry after {retry_after:g}s"
        elif status == 404:
            hint = "; check the model name and base_url"
        origin = f"HTTP {status}" if status is not None else "an error inside the stream"
        return cls(
            self.scrub(
                f"{self.provider} answered {origin} for model {self.model!r} at "
                f"{self._where}: {message}{hint}"
            ),
            provider=self.provider,
            status_code=status,
            provider_message=message,
            error_type=error_type,
            retry_after=retry_after,
        )

    def malformed(self, what: str, raw: str | bytes, payload: Any = None) -> LLMResponseError:
        """An :class:`LLMResponseError` for a reply that cannot be used."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        excerpt = self.scrub(_excerpt(text))
        message, _ = _error_details(payload)
        return LLMResponseError(
            self.scrub(f"{self.provider} sent {what} (model {self.model!r}); it starts: {excerpt}"),
            provider=self.provider,
            provider_message=self.scrub(message) if message else None,
            excerpt=excerpt,
        )

    def decode_json(self, raw: str | bytes, what: str = "a reply that is not valid JSON") -> Any:
        """Parse *raw* as JSON, raising :class:`LLMResponseError` if it is not."""
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise self.malformed(what, raw) from exc

    # -- requests -------------------------------------------------------------------

    async def post_json(self, path: str, body: dict[str, Any], parse: Callable[[Any], T]) -> T:
        """POST *body*, parse the JSON reply with *parse*, retrying as the policy allows.

        Exceptions *parse* raises for a reply of the wrong shape (KeyError, TypeError,
        ...) become :class:`LLMResponseError`.
        """

        async def attempt(client: httpx.AsyncClient, progress: _Progress) -> T:
            response = await self._send(client, path, body)
            try:
                if not response.is_success:
                    raise await self._status_error(response)
                raw = await self._read_all(response)
            finally:
                await close_response(response)
            payload = self.decode_json(raw)
            if isinstance(payload, dict) and payload.get("error"):
                raise self.error(None, payload)
            try:
                return parse(payload)
            except _SHAPE_ERRORS as exc:
                raise self.malformed(
                    f"a reply of an unexpected shape ({_describe(exc)})", raw, payload
                ) from exc

        return await self._retrying(attempt)

    async def post_stream(
        self,
        path: str,
        body: dict[str, Any],
        new_handler: Callable[[], StreamHandler[T]],
        on_chunk: ChunkCallback,
    ) -> T:
        """POST *body* and read the reply as server-sent events through a new handler.

        A stream that breaks before any chunk was emitted is retried like a failed
        connection; once a chunk has been emitted, nothing is retried.
        """

        async def attempt(client: httpx.AsyncClient, progress: _Progress) -> T:
            response = await self._send(client, path, body)
            try:
                if not response.is_success:
                    raise await self._status_error(response)
                if "json" in response.headers.get("content-type", ""):
                    # A server that ignored "stream", or sent its error as a 200.
                    raw = await self._read_all(response)
                    payload = self.decode_json(raw)
                    if isinstance(payload, dict) and payload.get("error"):
                        raise self.error(None, payload)
                    raise self.malformed("JSON where an event stream was expected", raw)
                return await self._consume(response, new_handler(), on_chunk, progress)
            finally:
                await close_response(response)

        return await self._retrying(attempt)

    async def _retrying(self, attempt: Callable[[httpx.AsyncClient, _Progress], Awaitable[T]]) -> T:
        pool = await pool_for(self.endpoint)
        retry = 0
        while True:
            progress = _Progress()
            # A token per request, not per task: an event handler run inside a call
            # may itself call this endpoint from the same task.
            borrower = object()
            await pool.limiter.acquire_on_behalf_of(borrower)
            shard = pool.take()
            try:
                return await attempt(pool.clients[shard], progress)
            except LLMError as exc:
                _scrub_error(exc, self.scrub)
                delay = None if progress.chunks else self._retry_delay(exc, retry)
                if delay is None:
                    raise
                failure = str(exc)
            finally:
                pool.give_back(shard)
                pool.limiter.release_on_behalf_of(borrower)
            retry += 1
            logger.info(
                "%s; retrying in %.2fs (retry %d of %d)",
                failure,
                delay,
                retry,
                self.retry.max_retries,
            )
            await anyio.sleep(delay)

    def _retry_delay(self, exc: LLMError, retry: int) -> float | None:
        if isinstance(exc, ProviderError):
            status = exc.status_code
            if status is None or not (status == 429 or status >= 500):
                return None
            return self.retry.delay(retry, exc.retry_after)
        if isinstance(exc, LLMTimeoutError):
            return self.retry.delay(retry) if exc.phase == "connect" else None
        if isinstance(exc, LLMConnectionError):
            return self.retry.delay(retry)
        return None

    async def _send(
        self, client: httpx.AsyncClient, path: str, body: dict[str, Any]
    ) -> httpx.Response:
        headers = {name: secret.reveal() for name, secret in self._secret_headers.items()}
        request = client.build_request("POST", path, json=body, headers=headers)
        try:
            return await client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise self._timeout(exc) from exc
        except httpx.HTTPError as exc:
            raise LLMConnectionError(
                self.scrub(f"{self.provider}: no reply from {self._where}: {_describe(exc)}"),
                provider=self.provider,
            ) from exc

    async def _read_all(self, response: httpx.Response) -> bytes:
        try:
            return await response.aread()
        except httpx.TimeoutException as exc:
            raise self._timeout(exc) from exc
        except httpx.DecodingError as exc:
            raise self.malformed("a body that could not be decoded", b"") from exc
        except httpx.HTTPError as exc:
            raise LLMConnectionError(
                self.scrub(
                    f"{self.provider}: the connection to {self._where} broke while the "
                    f"reply was read: {_describe(exc)}"
                ),
                provider=self.provider,
            ) from exc

    async def _status_error(self, response: httpx.Response) -> ProviderError:
        try:
            raw = await response.aread()
        except httpx.HTTPError:
            raw = b""
        text = raw.decode("utf-8", "replace")
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        return self.error(
            response.status_code,
            payload,
            text,
            retry_after=retry_after_from_headers(response.headers),
        )

    async def _consume(
        self,
        response: httpx.Response,
        handler: StreamHandler[T],
        on_chunk: ChunkCallback,
        progress: _Progress,
    ) -> T:
        callback_error: BaseException | None = None

        async def emit(chunk: Chunk) -> None:
            nonlocal callback_error
            progress.chunks += 1
            progress.chars += len(chunk.text)
            try:
                await on_chunk(chunk)
            except BaseException as exc:
                callback_error = exc
                raise

        body = BodyReader(response)
        decoder = SSEDecoder()
        ended = False
        try:
            while not ended:
                try:
                    data = await body.next()
                except httpx.TimeoutException as exc:
                    raise self._timeout(exc) from exc
                except httpx.HTTPError as exc:
                    raise self._interrupted(progress, exc) from exc
                if data is None:
                    break
                for event in decoder.feed(data):
                    if event.data == "[DONE]":
                        ended = True
                        break
                    try:
                        ended = await handler.on_event(event, emit)
                    except _SHAPE_ERRORS as exc:
                        if exc is callback_error:
                            raise  # the consumer's own error, not the provider's
                        raise self.malformed(
                            f"a stream event of an unexpected shape ({_describe(exc)})",
                            event.data,
                        ) from exc
                    if ended:
                        break
        finally:
            # After the final event the body ends at once, and reading it to its end
            # lets the connection be reused; a server that holds it open costs its
            # connection, not a hang.
            await body.aclose(grace=_END_GRACE if ended else 0.0)
        decoder.close()
        if not (ended or handler.finished):
            raise self._interrupted(progress, None)
        return handler.result()

    def _timeout(self, exc: httpx.TimeoutException) -> LLMTimeoutError:
        phase = next((p for t, p in _TIMEOUT_PHASES.items() if isinstance(exc, t)), "read")
        limit = self.endpoint.timeout
        if phase == "connect":
            limit = min(limit, CONNECT_TIMEOUT)
        return LLMTimeoutError(
            f"{self.provider}: {phase} timeout after {limit:g}s talking to {self._where} "
            f"(model {self.model!r}); raise timeout= if the model needs longer",
            provider=self.provider,
            phase=phase,
        )

    def _interrupted(self, progress: _Progress, exc: Exception | None) -> StreamInterruptedError:
        cause = f" ({_describe(exc)})" if exc is not None else ""
        return StreamInterruptedError(
            self.scrub(
                f"{self.provider}: the stream from {self._where} ended before the reply was "
                f"complete, after {progress.chars} characters{cause}"
            ),
            provider=self.provider,
            received=progress.chars,
        )


def _scrub_error(exc: LLMError, scrub: Callable[[str], str]) -> None:
    """Mask secrets in *exc* in place: a last guard for whatever text a provider echoed."""
    exc.args = tuple(scrub(arg) if isinstance(arg, str) else arg for arg in exc.args)
    for name in ("provider_message", "excerpt"):
        value = getattr(exc, name, None)
        if isinstance(value, str):
            setattr(exc, name, scrub(value))
