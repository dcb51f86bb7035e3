"""Events: the catalogue, the bus and BaseEventListener.

``from anycrew.events import event_bus, BaseEvent, BaseEventListener`` and the event
classes. See :mod:`anycrew.events.bus` for the delivery guarantees.
"""

from .agent_events import (
    AgentExecutionCancelledEvent as AgentExecutionCancelledEvent,
)
from .agent_events import (
    AgentExecutionCompletedEvent as AgentExecutionCompletedEvent,
)
from .agent_events import (
    AgentExecutionErrorEvent as AgentExecutionErrorEvent,
)
from .agent_events import (
    AgentExecutionStartedEvent as AgentExecutionStartedEvent,
)
from .base import CHANNELS as CHANNELS
from .base import BaseEvent as BaseEvent
from .bus import EventBus as EventBus
from .bus import event_bus as event_bus
from .crew_events import (
    CrewKickoffCancelledEvent as CrewKickoffCancelledEvent,
)
from .crew_events import (
    CrewKickoffCompletedEvent as CrewKickoffCompletedEvent,
)
from .crew_events import (
    CrewKickoffFailedEvent as CrewKickoffFailedEvent,
)
from .crew_events import (
    CrewKickoffStartedEvent as CrewKickoffStartedEvent,
)
from .flow_events import (
    FlowCancelledEvent as FlowCancelledEvent,
)
from .flow_events import (
    FlowCreatedEvent as FlowCreatedEvent,
)
from .flow_events import (
    FlowEvent as FlowEvent,
)
from .flow_events import (
    FlowFailedEvent as FlowFailedEvent,
)
from .flow_events import (
    FlowFinishedEvent as FlowFinishedEvent,
)
from .flow_events import (
    FlowPausedEvent as FlowPausedEvent,
)
from .flow_events import (
    FlowPlotEvent as FlowPlotEvent,
)
from .flow_events import (
    FlowStartedEvent as FlowStartedEvent,
)
from .flow_events import (
    HumanFeedbackReceivedEvent as HumanFeedbackReceivedEvent,
)
from .flow_events import (
    HumanFeedbackRequestedEvent as HumanFeedbackRequestedEvent,
)
from .flow_events import (
    MethodExecutionCancelledEvent as MethodExecutionCancelledEvent,
)
from .flow_events import (
    MethodExecutionEvent as MethodExecutionEvent,
)
from .flow_events import (
    MethodExecutionFailedEvent as MethodExecutionFailedEvent,
)
from .flow_events import (
    MethodExecutionFinishedEvent as MethodExecutionFinishedEvent,
)
from .flow_events import (
    MethodExecutionPausedEvent as MethodExecutionPausedEvent,
)
from .flow_events import (
    MethodExecutionStartedEvent as MethodExecutionStartedEvent,
)
from .listener import BaseEventListener as BaseEventListener
from .llm_events import (
    LLMCallCompletedEvent as LLMCallCompletedEvent,
)
from .llm_events import (
    LLMCallFailedEvent as LLMCallFailedEvent,
)
from .llm_events import (
    LLMCallStartedEvent as LLMCallStartedEvent,
)
from .llm_events import (
    LLMCallType as LLMCallType,
)
from .llm_events import (
    LLMStreamChunkEvent as LLMStreamChunkEvent,
)
from .llm_events import (
    LLMThinkingChunkEvent as LLMThinkingChunkEvent,
)
from .llm_guardrail_events import (
    LLMGuardrailCompletedEvent as LLMGuardrailCompletedEvent,
)
from .llm_guardrail_events import (
    LLMGuardrailStartedEvent as LLMGuardrailStartedEvent,
)
from .task_events import (
    TaskCancelledEvent as TaskCancelledEvent,
)
from .task_events import (
    TaskCompletedEvent as TaskCompletedEvent,
)
from .task_events import (
    TaskFailedEvent as TaskFailedEvent,
)
from .task_events import (
    TaskSkippedEvent as TaskSkippedEvent,
)
from .task_events import (
    TaskStartedEvent as TaskStartedEvent,
)
from .tool_events import (
    ToolExecutionErrorEvent as ToolExecutionErrorEvent,
)
from .tool_events import (
    ToolSelectionErrorEvent as ToolSelectionErrorEvent,
)
from .tool_events import (
    ToolUsageErrorEvent as ToolUsageErrorEvent,
)
from .tool_events import (
    ToolUsageEvent as ToolUsageEvent,
)
from .tool_events import (
    ToolUsageFinishedEvent as ToolUsageFinishedEvent,
)
from .tool_events import (
    ToolUsageStartedEvent as ToolUsageStartedEvent,
)
from .tool_events import (
    ToolValidateInputErrorEvent as ToolValidateInputErrorEvent,
)

#: CrewAI's name for the bus, so migrated code keeps working.
crewai_event_bus = event_bus

__all__ = [
    "CHANNELS",
    "AgentExecutionCancelledEvent",
    "AgentExecutionCompletedEvent",
    "AgentExecutionErrorEvent",
    "AgentExecutionStartedEvent",
    "BaseEvent",
    "BaseEventListener",
    "CrewKickoffCancelledEvent",
    "CrewKickoffCompletedEvent",
    "CrewKickoffFailedEvent",
    "CrewKickoffStartedEvent",
    "EventBus",
    "FlowCancelledEvent",
    "FlowCreatedEvent",
    "FlowEvent",
    "FlowFailedEvent",
    "FlowFinishedEvent",
    "FlowPausedEvent",
    "FlowPlotEvent",
    "FlowStartedEvent",
    "HumanFeedbackReceivedEvent",
    "HumanFeedbackRequestedEvent",
    "LLMCallCompletedEvent",
    "LLMCallFailedEvent",
    "LLMCallStartedEvent",
    "LLMCallType",
    "LLMGuardrailCompletedEvent",
    "LLMGuardrailStartedEvent",
    "LLMStreamChunkEvent",
    "LLMThinkingChunkEvent",
    "MethodExecutionCancelledEvent",
    "MethodExecutionEvent",
    "MethodExecutionFailedEvent",
    "MethodExecutionFinishedEvent",
    "MethodExecutionPausedEvent",
    "MethodExecutionStartedEvent",
    "TaskCancelledEvent",
    "TaskCompletedEvent",
    "TaskFailedEvent",
    "TaskSkippedEvent",
    "TaskStartedEvent",
    "ToolExecutionErrorEvent",
    "ToolSelectionErrorEvent",
    "ToolUsageErrorEvent",
    "ToolUsageEvent",
    "ToolUsageFinishedEvent",
    "ToolUsageStartedEvent",
    "ToolValidateInputErrorEvent",
    "crewai_event_bus",
    "event_bus",
]
