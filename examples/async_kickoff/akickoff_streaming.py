# From CrewAI's "Kickoff Crew Asynchronously" page (async streaming) with only the
# import prefix changed (crewai -> anycrew); kept as written, hence the noqa comment.
import asyncio  # noqa: I001
from anycrew import Crew, Agent, Task

agent = Agent(
    role="Researcher",
    goal="Research and summarize topics",
    backstory="You are an expert researcher.",
)

task = Task(
    description="Research the topic: {topic}",
    agent=agent,
    expected_output="A comprehensive summary of the topic.",
)

crew = Crew(
    agents=[agent],
    tasks=[task],
    stream=True,  # enable streaming
)


async def main():
    streaming_output = await crew.akickoff(inputs={"topic": "AI trends in 2024"})

    # Iterate over the streamed chunks asynchronously
    async for chunk in streaming_output:
        print(f"Chunk: {chunk.content}")

    # The final result, once streaming has finished
    result = streaming_output.result
    print(f"Final result: {result.raw}")


asyncio.run(main())
