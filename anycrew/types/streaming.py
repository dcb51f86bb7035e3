"""The streaming contract, at CrewAI's import path.

``from anycrew.types.streaming import StreamFrame, StreamSession,
AsyncStreamSession, StreamChunk, StreamChunkType, CrewStreamingOutput``.
"""

from ..streaming.chunks import (
    CrewStreamingOutput as CrewStreamingOutput,
)
from ..streaming.chunks import (
    StreamChunk as StreamChunk,
)
from ..streaming.chunks import (
    StreamChunkType as StreamChunkType,
)
from ..streaming.frames import StreamFrame as StreamFrame
from ..streaming.sessions import (
    AsyncStreamSession as AsyncStreamSession,
)
from ..streaming.sessions import (
    StreamSession as StreamSession,
)

__all__ = [
    "AsyncStreamSession",
    "CrewStreamingOutput",
    "StreamChunk",
    "StreamChunkType",
    "StreamFrame",
    "StreamSession",
]
