# The async streaming example of akickoff_streaming.py, under trio.
import trio

from anycrew import Agent, Crew, Task

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
crew = Crew(agents=[agent], tasks=[task], stream=True)


async def main():
    streaming_output = await crew.akickoff(inputs={"topic": "AI trends in 2024"})
    async for chunk in streaming_output:
        print(f"Chunk: {chunk.content}")
    print(f"Final result: {streaming_output.result.raw}")


trio.run(main)
