"""Events: the catalogue, the bus and BaseEventListener.

``from anycrew.events import event_bus, BaseEvent, BaseEventListener`` and the event
classes. See :mod:`anycrew.events.bus` for the delivery guarantees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .agent_events import AgentExecutionCancelledEvent as AgentExecutionCancelledEvent
    from .agent_events import AgentExecutionCompletedEvent as AgentExecutionCompletedEvent
    from .agent_events import AgentExecutionErrorEvent as AgentExecutionErrorEvent
    from .agent_events import AgentExecutionStartedEvent as AgentExecutionStartedEvent
    from .base import CHANNELS as CHANNELS
    from .base import BaseEvent as BaseEvent
    from .bus import EventBus as EventBus
    from .bus import event_bus as event_bus
    from .crew_events import CrewKickoffCancelledEvent as CrewKickoffCancelledEvent
    from .crew_events import CrewKickoffCompletedEvent as CrewKickoffCompletedEvent
    from .crew_events import CrewKickoffFailedEvent as CrewKickoffFailedEvent
    from .crew_events import CrewKickoffStartedEvent as CrewKickoffStartedEvent
    from .crew_events import CrewTestCompletedEvent as CrewTestCompletedEvent
    from .crew_events import CrewTestFailedEvent as CrewTestFailedEvent
    from .crew_events import CrewTestResultEvent as CrewTestResultEvent
    from .crew_events import CrewTestStartedEvent as CrewTestStartedEvent
    from .flow_events import FlowCancelledEvent as FlowCancelledEvent
    from .flow_events import FlowCreatedEvent as FlowCreatedEvent
    from .flow_events import FlowEvent as FlowEvent
    from .flow_events import FlowFailedEvent as FlowFailedEvent
    from .flow_events import FlowFinishedEvent as FlowFinishedEvent
    from .flow_events import FlowPausedEvent as FlowPausedEvent
    from .flow_events import FlowPlotEvent as FlowPlotEvent
    from .flow_events import FlowStartedEvent as FlowStartedEvent
    from .flow_events import HumanFeedbackReceivedEvent as HumanFeedbackReceivedEvent
    from .flow_events import HumanFeedbackRequestedEvent as HumanFeedbackRequestedEvent
    from .flow_events import MethodExecutionCancelledEvent as MethodExecutionCancelledEvent
    from .flow_events import MethodExecutionEvent as MethodExecutionEvent
    from .flow_events import MethodExecutionFailedEvent as MethodExecutionFailedEvent
    from .flow_events import MethodExecutionFinishedEvent as MethodExecutionFinishedEvent
    from .flow_events import MethodExecutionPausedEvent as MethodExecutionPausedEvent
    from .flow_events import MethodExecutionStartedEvent as MethodExecutionStartedEvent
    from .listener import BaseEventListener as BaseEventListener
    from .llm_events import LLMCallCompletedEvent as LLMCallCompletedEvent
    from .llm_events import LLMCallFailedEvent as LLMCallFailedEvent
    from .llm_events import LLMCallStartedEvent as LLMCallStartedEvent
    from .llm_events import LLMCallType as LLMCallType
    from .llm_events import LLMStreamChunkEvent as LLMStreamChunkEvent
    from .llm_events import LLMThinkingChunkEvent as LLMThinkingChunkEvent
    from .llm_guardrail_events import LLMGuardrailCompletedEvent as LLMGuardrailCompletedEvent
    from .llm_guardrail_events import LLMGuardrailStartedEvent as LLMGuardrailStartedEvent
    from .task_events import TaskCancelledEvent as TaskCancelledEvent
    from .task_events import TaskCompletedEvent as TaskCompletedEvent
    from .task_events import TaskFailedEvent as TaskFailedEvent
    from .task_events import TaskSkippedEvent as TaskSkippedEvent
    from .task_events import TaskStartedEvent as TaskStartedEvent
    from .tool_events import ToolExecutionErrorEvent as ToolExecutionErrorEvent
    from .tool_events import ToolSelectionErrorEvent as ToolSelectionErrorEvent
    from .tool_events import ToolUsageErrorEvent as ToolUsageErrorEvent
    from .tool_events import ToolUsageEvent as ToolUsageEvent
    from .tool_events import ToolUsageFinishedEvent as ToolUsageFinishedEvent
    from .tool_events import ToolUsageStartedEvent as ToolUsageStartedEvent
    from .tool_events import ToolValidateInputErrorEvent as ToolValidateInputErrorEvent

    crewai_event_bus = event_bus

# Each name loads its module on first use (PEP 562): a crew that never touches the
# flow or guardrail events never builds their classes.
_HOMES = {
    "AgentExecutionCancelledEvent": ".agent_events",
    "AgentExecutionCompletedEvent": ".agent_events",
    "AgentExecutionErrorEvent": ".agent_events",
    "AgentExecutionStartedEvent": ".agent_events",
    "BaseEvent": ".base",
    "BaseEventListener": ".listener",
    "CHANNELS": ".base",
    "CrewKickoffCancelledEvent": ".crew_events",
    "CrewKickoffCompletedEvent": ".crew_events",
    "CrewKickoffFailedEvent": ".crew_events",
    "CrewKickoffStartedEvent": ".crew_events",
    "CrewTestCompletedEvent": ".crew_events",
    "CrewTestFailedEvent": ".crew_events",
    "CrewTestResultEvent": ".crew_events",
    "CrewTestStartedEvent": ".crew_events",
    "EventBus": ".bus",
    "FlowCancelledEvent": ".flow_events",
    "FlowCreatedEvent": ".flow_events",
    "FlowEvent": ".flow_events",
    "FlowFailedEvent": ".flow_events",
    "FlowFinishedEvent": ".flow_events",
    "FlowPausedEvent": ".flow_events",
    "FlowPlotEvent": ".flow_events",
    "FlowStartedEvent": ".flow_events",
    "HumanFeedbackReceivedEvent": ".flow_events",
    "HumanFeedbackRequestedEvent": ".flow_events",
    "LLMCallCompletedEvent": ".llm_events",
    "LLMCallFailedEvent": ".llm_events",
    "LLMCallStartedEvent": ".llm_events",
    "LLMCallType": ".llm_events",
    "LLMGuardrailCompletedEvent": ".llm_guardrail_events",
    "LLMGuardrailStartedEvent": ".llm_guardrail_events",
    "LLMStreamChunkEvent": ".llm_events",
    "LLMThinkingChunkEvent": ".llm_events",
    "MethodExecutionCancelledEvent": ".flow_events",
    "MethodExecutionEvent": ".flow_events",
    "MethodExecutionFailedEvent": ".flow_events",
    "MethodExecutionFinishedEvent": ".flow_events",
    "MethodExecutionPausedEvent": ".flow_events",
    "MethodExecutionStartedEvent": ".flow_events",
    "TaskCancelledEvent": ".task_events",
    "TaskCompletedEvent": ".task_events",
    "TaskFailedEvent": ".task_events",
    "TaskSkippedEvent": ".task_events",
    "TaskStartedEvent": ".task_events",
    "ToolExecutionErrorEvent": ".tool_events",
    "ToolSelectionErrorEvent": ".tool_events",
    "ToolUsageErrorEvent": ".tool_events",
    "ToolUsageEvent": ".tool_events",
    "ToolUsageFinishedEvent": ".tool_events",
    "ToolUsageStartedEvent": ".tool_events",
    "ToolValidateInputErrorEvent": ".tool_events",
    "event_bus": ".bus",
    "crewai_event_bus": ".bus:event_bus",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)


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
    "CrewTestCompletedEvent",
    "CrewTestFailedEvent",
    "CrewTestResultEvent",
    "CrewTestStartedEvent",
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
