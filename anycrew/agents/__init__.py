"""Agent internals at CrewAI's paths: the step records a ``step_callback`` receives.

``from anycrew.agents.parser import AgentAction, AgentFinish`` works as in CrewAI.
"""

from .parser import AgentAction as AgentAction
from .parser import AgentFinish as AgentFinish

__all__ = ["AgentAction", "AgentFinish"]
