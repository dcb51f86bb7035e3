"""Delegation tools: ``from anycrew.tools.agent_tools import AgentTools``.

"Delegate work to coworker" (arguments ``task``, ``context``, ``coworker``) and
"Ask question to coworker" (``question``, ``context``, ``coworker``): an agent
hands a request to another agent of its crew, which works on it as a child of the
tool call, in the same run.
"""

from .agent_tools import AgentTools as AgentTools
from .ask_question_tool import AskQuestionTool as AskQuestionTool
from .ask_question_tool import AskQuestionToolSchema as AskQuestionToolSchema
from .base_agent_tools import MAX_DELEGATION_DEPTH as MAX_DELEGATION_DEPTH
from .base_agent_tools import BaseAgentTool as BaseAgentTool
from .delegate_work_tool import DelegateWorkTool as DelegateWorkTool
from .delegate_work_tool import DelegateWorkToolSchema as DelegateWorkToolSchema

__all__ = [
    "MAX_DELEGATION_DEPTH",
    "AgentTools",
    "AskQuestionTool",
    "AskQuestionToolSchema",
    "BaseAgentTool",
    "DelegateWorkTool",
    "DelegateWorkToolSchema",
]
