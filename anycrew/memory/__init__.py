"""What anycrew remembers between kickoffs (CrewAI's ``crewai.memory`` path).

So far: :mod:`anycrew.memory.storage.kickoff_task_outputs_storage`, the store of each
kickoff's task outputs that ``Crew.replay`` and ``anycrew log-tasks-outputs`` read.
"""
