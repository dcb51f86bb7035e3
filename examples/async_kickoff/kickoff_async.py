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

# Create a task that requires code execution
data_analysis_task = Task(
    description="Analyze the given dataset and calculate the average age of participants. Ages: {ages}",  # noqa: E501
    agent=coding_agent,
    expected_output="The average age of the participants.",
)

# Create a crew and add the task
analysis_crew = Crew(agents=[coding_agent], tasks=[data_analysis_task])


# Async function to kickoff the crew asynchronously
async def async_crew_execution():
    result = await analysis_crew.kickoff_async(inputs={"ages": [25, 30, 35, 40, 45]})
    print("Crew Result:", result)


# Run the async function
asyncio.run(async_crew_execution())
