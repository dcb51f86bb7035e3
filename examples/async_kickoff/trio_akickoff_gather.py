"""akickoff_gather.py under trio: a nursery instead of asyncio.gather()."""

import trio

from anycrew import Agent, Crew, Task

coding_agent = Agent(
    role="Python Data Analyst",
    goal="Analyze data and provide insights using Python",
    backstory="You are an experienced data analyst with strong Python skills.",
    allow_code_execution=True,
)

task_1 = Task(
    description="Analyze the first dataset and calculate the average age. Ages: {ages}",
    agent=coding_agent,
    expected_output="The average age of the participants.",
)

task_2 = Task(
    description="Analyze the second dataset and calculate the average age. Ages: {ages}",
    agent=coding_agent,
    expected_output="The average age of the participants.",
)

crew_1 = Crew(agents=[coding_agent], tasks=[task_1])
crew_2 = Crew(agents=[coding_agent], tasks=[task_2])


async def main():
    results = [None, None]

    async def run(i, crew, inputs):
        results[i] = await crew.akickoff(inputs=inputs)

    # The nursery waits for both crews; results keep their start order.
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run, 0, crew_1, {"ages": [25, 30, 35, 40, 45]})
        nursery.start_soon(run, 1, crew_2, {"ages": [20, 22, 24, 28, 30]})

    for i, result in enumerate(results, 1):
        print(f"Crew {i} Result:", result)


trio.run(main)
