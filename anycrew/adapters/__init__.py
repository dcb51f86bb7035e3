"""The edges: LLM providers and, later, persistence backends.

Nothing here is imported by ``import anycrew``; the registries import what they need.
"""
