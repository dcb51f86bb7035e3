"""Chunk streaming for ``Crew(stream=True)``: StreamChunk and CrewStreamingOutput."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..runtime._streams import Start
from .frames import StreamFrame
from .sessions import AsyncStreamSession, StreamSession


class StreamChunkType(str, Enum):
    """What a chunk carries: answer text or a piece of a tool call."""

    TEXT = "text"
    TOOL_CALL = "tool_call"


class StreamChunk(BaseModel):
    """One streamed piece of a crew's output, labelled with the task that produced it.

    Attributes:
        content: the text of the piece.
        chunk_type: TEXT, or TOOL_CALL for a piece of a tool call.
        task_index: the task's position in the crew (0-based).
        task_name: the task's name (or the start of its description).
        task_id: the task's id.
        agent_role: the role of the agent working on the task.
        agent_id: that agent's id.
        tool_call: for TOOL_CALL chunks, the call as far as this piece tells it.
    """

    model_config = ConfigDict(defer_build=True)

    content: str = ""
    chunk_type: StreamChunkType = StreamChunkType.TEXT
    task_index: int = 0
    task_name: str = ""
    task_id: str = ""
    agent_role: str = ""
    agent_id: str = ""
    tool_call: dict[str, Any] | None = None

    def __str__(self) -> str:
        return self.content


class CrewStreamingOutput:
    """The streamed output of a ``Crew(stream=True)`` kickoff.

    Iterate it with ``for`` (after ``kickoff()``) or ``async for`` (after
    ``await akickoff()``; no ``async with`` needed: the run executes on a helper
    thread). ``result`` (or ``results`` for ``*_for_each``) is available once every
    chunk has been read. ``close()`` / ``aclose()`` cancel the run and wait until it
    has stopped; breaking out of the loop or dropping the output cancel it without
    waiting (its helper thread ends a moment later). Read it through one iterator:
    an ``async for`` iterator that is dropped before the end stops the run.
    """

    def __init__(
        self,
        start: Start,
        task_indices: dict[str, int],
        *,
        many: bool = False,
        buffer_size: int | None = None,
    ) -> None:
        self._start = start
        self._task_indices = task_indices
        self._many = many
        self._buffer_size = buffer_size
        self._session: StreamSession | AsyncStreamSession | None = None
        self._chunks: list[StreamChunk] = []

    def _chunk(self, frame: StreamFrame) -> StreamChunk | None:
        if frame.type != "llm_stream_chunk":
            return None
        data = frame.data
        tool_call = data.get("tool_call")
        task_id = data.get("task_id") or ""
        chunk = StreamChunk(
            content=frame.content,
            chunk_type=StreamChunkType.TOOL_CALL if tool_call else StreamChunkType.TEXT,
            task_index=self._task_indices.get(task_id, 0),
            task_name=data.get("task_name") or "",
            task_id=task_id,
            agent_role=data.get("agent_role") or "",
            agent_id=data.get("agent_id") or "",
            tool_call=tool_call,
        )
        self._chunks.append(chunk)
        return chunk

    def __iter__(self) -> Iterator[StreamChunk]:
        if self._session is None:
            self._session = StreamSession(
                self._start, buffer_size=self._buffer_size, keep_frames=False
            )
        session = self._session
        if not isinstance(session, StreamSession):
            raise RuntimeError("this output is being read with 'async for'; keep to it")
        with session:
            for frame in session.llm:
                chunk = self._chunk(frame)
                if chunk is not None:
                    yield chunk

    def __aiter__(self) -> AsyncIterator[StreamChunk]:
        if self._session is None:
            self._session = AsyncStreamSession(
                self._start, buffer_size=self._buffer_size, keep_frames=False
            )
        session = self._session
        if not isinstance(session, AsyncStreamSession):
            raise RuntimeError("this output is being read with 'for'; keep to it")
        return _AsyncChunks(self, session)

    @property
    def chunks(self) -> list[StreamChunk]:
        """The chunks read so far."""
        return list(self._chunks)

    def get_full_text(self) -> str:
        """The text of every TEXT chunk read so far, joined."""
        return "".join(c.content for c in self._chunks if c.chunk_type is StreamChunkType.TEXT)

    @property
    def is_completed(self) -> bool:
        """True once every chunk has been read and the run succeeded."""
        return self._session is not None and self._session.is_completed

    @property
    def result(self) -> Any:
        """The CrewOutput (a list of them for ``*_for_each``), once every chunk was read."""
        if self._session is None:
            raise RuntimeError(
                "Streaming has not completed yet. Iterate over all chunks before accessing result."
            )
        return self._session.result

    @property
    def results(self) -> list[Any]:
        """The outputs as a list (one per copy for ``*_for_each``)."""
        result = self.result
        return list(result) if self._many else [result]

    def cancel(self) -> None:
        """Cancel the run unless it is over, without waiting for it to stop."""
        if self._session is not None:
            self._session.cancel()

    def close(self) -> None:
        """Cancel the run unless it is over, and wait until it has stopped."""
        if self._session is not None:
            self._session.close()

    async def aclose(self) -> None:
        """:meth:`close` without blocking the event loop."""
        session = self._session
        if isinstance(session, AsyncStreamSession):
            await session.aclose()
        elif session is not None:
            session.close()


class _AsyncChunks:
    """``async for`` over a CrewStreamingOutput; closing it early cancels the run."""

    def __init__(self, output: CrewStreamingOutput, session: AsyncStreamSession) -> None:
        self._output = output
        self._frames = session.llm

    def __aiter__(self) -> _AsyncChunks:
        return self

    async def __anext__(self) -> StreamChunk:
        async for frame in self._frames:
            chunk = self._output._chunk(frame)
            if chunk is not None:
                return chunk
        raise StopAsyncIteration

    async def aclose(self) -> None:
        await self._output.aclose()

    def __del__(self) -> None:
        # ``break`` out of ``async for`` drops this iterator without closing it:
        # cancel the run then, so nothing keeps running behind the reader's back.
        # Only request it: waiting here would block the reader's event loop.
        self._output.cancel()
