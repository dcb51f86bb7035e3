"""Guardrails, human input and a ConditionalTask on the offline simulator."""

from anycrew import LLM, Agent, Crew, Task, TaskOutput
from anycrew.human_input import use_provider
from anycrew.tasks.conditional_task import ConditionalTask


def sim(messages):
    # The offline simulator: a short draft first, a longer one once a check rejects it.
    prompt = messages[-1]["content"]
    if "did not pass a check" in prompt:
        return "Final Answer: Tides rise and fall twice a day, pulled by the Moon."
    if "asked for changes" in prompt:
        return "Final Answer: Tides rise and fall twice a day, pulled by the Moon and Sun."
    return "Final Answer: Tides move."


def long_enough(output: TaskOutput):
    if len(output.raw) < 30:
        return (False, "Too short: write one full sentence.")
    return (True, output.raw)


writer = Agent(
    role="Writer", goal="Explain", backstory="Precise.", llm=LLM(model="sim", responder=sim)
)
explain = Task(
    description="Explain tides in one sentence.",
    expected_output="One sentence.",
    agent=writer,
    guardrail=long_enough,  # or a string, judged by the agent's LLM
    human_input=True,
)
extra = ConditionalTask(
    description="Add a fun fact.",
    expected_output="One line.",
    agent=writer,
    condition=lambda previous: "Sun" not in previous.raw,  # skipped when False
)

feedback = iter(["Mention the Sun too.", ""])  # "" accepts the answer
with use_provider(lambda request: next(feedback)):
    result = Crew(agents=[writer], tasks=[explain, extra]).kickoff()
print(result.raw)  # -> Tides rise and fall twice a day, pulled by the Moon and Sun.
print(repr(result.tasks_output[1].raw))  # -> ''
