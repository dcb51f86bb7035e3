"""Harnesses that run the benchmark scenarios on peer frameworks, each in its own environment."""
