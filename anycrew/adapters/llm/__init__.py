"""LLM provider adapters, one module per wire format."""
