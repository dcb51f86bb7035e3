"""The LLM seam: BaseLLM, the adapter base, the model-string registry."""

from .adapter import LLMAdapter as LLMAdapter
from .base_llm import BaseLLM as BaseLLM
from .types import Chunk as Chunk
from .types import LLMResponse as LLMResponse
from .types import ToolCall as ToolCall

__all__ = ["BaseLLM", "Chunk", "LLMAdapter", "LLMResponse", "ToolCall"]
