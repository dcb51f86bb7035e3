"""akickoff.py under trio: the same crew, run with trio.run()."""

import trio

from anycrew import Agent, Crew, Task

coding_agent = Agent(
    role="Python Data Analyst",
    goal="Analyze data and provide insights using Python",
    backstory="You are an experienced data analyst with strong Python skills.",
    allow_code_execution=True,
)

data_analysis_task = Task(
    description="Analyze the given dataset and calculate the average age of participants. Ages: {ages}",  # noqa: E501
    agent=coding_agent,
    expected_output="The average age of the participants.",
)

analysis_crew = Crew(agents=[coding_agent], tasks=[data_analysis_task])


async def main():
    result = await analysis_crew.akickoff(inputs={"ages": [25, 30, 35, 40, 45]})
    print("Crew Result:", result)


trio.run(main)
