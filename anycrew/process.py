"""Process: how a crew orders its tasks."""

from enum import Enum


class Process(str, Enum):
    """``sequential`` runs tasks in order; ``hierarchical`` lets a manager delegate."""

    sequential = "sequential"
    hierarchical = "hierarchical"
