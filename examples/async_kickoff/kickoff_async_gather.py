# From CrewAI's "Kickoff Crew Asynchronously" page with only the import prefix changed
# (crewai -> anycrew); kept as written, hence the noqa comments.
import asyncio  # noqa: I001
from anycrew import Crew, Agent, Task

# Create an agent with code execution enabled
coding_agent = Agent(
    role="Python Data Analyst",
    goal="Analyze data and provide insights using Python",
    backstory="You are an experienced data analyst with strong Python skills.",
    allow_code_execution=True,
)

# Create tasks that require code execution
task_1 = Task(
    description="Analyze the first dataset and calculate the average age of participants. Ages: {ages}",  # noqa: E501
    agent=coding_agent,
    expected_output="The average age of the participants.",
)

task_2 = Task(
    description="Analyze the second dataset and calculate the average age of participants. Ages: {ages}",  # noqa: E501
    agent=coding_agent,
    expected_output="The average age of the participants.",
)

# Create two crews and add tasks
crew_1 = Crew(agents=[coding_agent], tasks=[task_1])
crew_2 = Crew(agents=[coding_agent], tasks=[task_2])


# Async function to kickoff multiple crews asynchronously and wait for all to finish
async def async_multiple_crews():
    # Create coroutines for concurrent execution
    result_1 = crew_1.kickoff_async(inputs={"ages": [25, 30, 35, 40, 45]})
    result_2 = crew_2.kickoff_async(inputs={"ages": [20, 22, 24, 28, 30]})

    # Wait for both crews to finish
    results = await asyncio.gather(result_1, result_2)

    for i, result in enumerate(results, 1):
        print(f"Crew {i} Result:", result)


# Run the async function
asyncio.run(async_multiple_crews())
