"""The LLM seam: BaseLLM, the adapter base, the model-string registry."""

from .adapter import LLMAdapter as LLMAdapter
from .base_llm import BaseLLM as BaseLLM
from .types import LLMResponse as LLMResponse

__all__ = ["BaseLLM", "LLMAdapter", "LLMResponse"]
