"""The one place a model string's prefix picks an adapter.

Adapters are named by import path and imported on first use, so ``import anycrew``
stays light.
"""

from __future__ import annotations

import importlib
import threading

from ..errors import ConfigurationError
from .adapter import LLMAdapter

_lock = threading.Lock()
_providers: dict[str, str | type[LLMAdapter]] = {
    "sim": "anycrew.adapters.llm.sim:SimulatorAdapter",
    "openai": "anycrew.adapters.llm.openai:OpenAIAdapter",
    "ollama": "anycrew.adapters.llm.openai:OllamaAdapter",
    "anthropic": "anycrew.adapters.llm.anthropic:AnthropicAdapter",
}


def register_provider(prefix: str, adapter: str | type[LLMAdapter]) -> None:
    """Make ``LLM(model="<prefix>/...")`` use *adapter* (a class or ``"module:Class"``)."""
    if not prefix or "/" in prefix:
        raise ConfigurationError(
            f"provider prefix must be a non-empty word without '/', got {prefix!r}"
        )
    with _lock:
        _providers[prefix] = adapter


def providers() -> list[str]:
    """The registered provider prefixes."""
    return sorted(_providers)


def resolve(model: str) -> tuple[type[LLMAdapter], str]:
    """Split *model* into its provider's adapter class and the model name.

    Raises:
        ConfigurationError: if *model* is not a string or names no known provider.
    """
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError(
            f"model must be a non-empty string like 'sim' or 'provider/name', got {model!r}"
        )
    prefix, _, name = model.strip().partition("/")
    with _lock:
        target = _providers.get(prefix)
    if target is None:
        raise ConfigurationError(
            f"unknown model provider {prefix!r} in model {model!r}; known providers: "
            f"{', '.join(providers())}. Write the model as '<provider>/<name>', e.g. 'sim/demo'"
        )
    if isinstance(target, str):
        module_name, _, attribute = target.partition(":")
        adapter_cls = getattr(importlib.import_module(module_name), attribute)
        with _lock:
            _providers[prefix] = adapter_cls
        return adapter_cls, name
    return target, name
