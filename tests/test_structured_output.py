"""Structured output: output_pydantic / output_json, with answers sent back until they fit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from anycrew import LLM, Agent, Crew, OutputFormat, Task
from anycrew.errors import OutputValidationError
from anycrew.events import LLMCallStartedEvent

from .conftest import Recorder

pytestmark = pytest.mark.anyio


class Verdict(BaseModel):
    name: str
    score: int


GOOD = 'Final Answer: {"name": "tides", "score": 7}'


def crew_for(replies: list[str], **task: object) -> Crew:
    agent = Agent(role="Judge", goal="g", backstory="b", llm=LLM(model="sim", replies=replies))
    job = Task(description="Judge {topic}", expected_output="A verdict", agent=agent, **task)
    return Crew(agents=[agent], tasks=[job])


async def test_output_pydantic(recorder: Recorder) -> None:
    result = await crew_for([GOOD], output_pydantic=Verdict).akickoff({"topic": "tides"})
    assert result.pydantic == Verdict(name="tides", score=7)
    assert result["score"] == 7
    assert result.to_dict() == {"name": "tides", "score": 7}
    assert str(result) == str(Verdict(name="tides", score=7))
    assert result.tasks_output[0].output_format is OutputFormat.PYDANTIC
    prompt = recorder.of(LLMCallStartedEvent)[0].messages[-1]["content"]
    assert '"required": ["name", "score"]' in prompt


async def test_output_json_and_fenced_answers() -> None:
    fenced = 'Thought: done\nFinal Answer: ```json\n{"name": "rain", "score": 2}\n```'
    result = await crew_for([fenced], output_json=Verdict).akickoff({"topic": "rain"})
    assert result.json_dict == {"name": "rain", "score": 2}
    assert result.pydantic is None
    assert result.json == '{"name": "rain", "score": 2}'
    assert result.tasks_output[0].output_format is OutputFormat.JSON


async def test_a_bad_answer_is_sent_back_until_it_fits(recorder: Recorder) -> None:
    replies = ["Final Answer: seven out of ten", 'Final Answer: {"name": "x"}', GOOD]
    result = await crew_for(replies, output_pydantic=Verdict).akickoff({"topic": "x"})
    assert result.pydantic == Verdict(name="tides", score=7)
    calls = recorder.of(LLMCallStartedEvent)
    assert len(calls) == 3
    assert "contains no JSON object" in calls[1].messages[-1]["content"]
    assert "score: Field required" in calls[2].messages[-1]["content"]


async def test_giving_up_raises_a_typed_error(recorder: Recorder) -> None:
    crew = crew_for(["Final Answer: no"], output_pydantic=Verdict)
    with pytest.raises(OutputValidationError) as info:
        await crew.akickoff({"topic": "x"})
    assert isinstance(info.value, ValueError)
    assert info.value.model_name == "Verdict"
    assert info.value.task_name == "Judge {topic}"
    assert len(recorder.of(LLMCallStartedEvent)) == 4  # the answer and three retries
    assert recorder.types[-2:] == ["task_failed", "crew_kickoff_failed"]


def test_one_output_model_at_most() -> None:
    with pytest.raises(ValidationError, match="both output_pydantic and output_json"):
        crew_for([GOOD], output_pydantic=Verdict, output_json=Verdict)


async def test_providers_enforce_the_output_model_natively() -> None:
    from ._loopback import json_reply, serve
    from .test_llm_anthropic import message
    from .test_llm_openai import completion

    verdict = {"name": "tides", "score": 7}
    async with serve(json_reply(completion(json.dumps(verdict)))) as server:
        llm = LLM(model="openai/test", base_url=server.url + "/v1", api_key="sk-test")
        result = await _judge(llm, output_pydantic=Verdict)
    assert result.pydantic == Verdict(**verdict)
    sent = server.requests[0].json()["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["schema"]["required"] == ["name", "score"]

    forced = {"type": "tool_use", "id": "toolu_1", "name": "final_answer", "input": verdict}
    async with serve(json_reply(message(forced, stop_reason="tool_use"))) as server:
        llm = LLM(model="anthropic/test", base_url=server.url, api_key="sk-ant-test")
        result = await _judge(llm, output_json=Verdict)
    assert result.json_dict == verdict
    body = server.requests[0].json()
    assert body["tool_choice"] == {"type": "tool", "name": "final_answer"}
    assert body["tools"][-1]["input_schema"]["required"] == ["name", "score"]


async def _judge(llm: LLM, **task: object) -> Any:
    agent = Agent(role="Judge", goal="g", backstory="b", llm=llm)
    job = Task(description="Judge tides", expected_output="A verdict", agent=agent, **task)
    return await Crew(agents=[agent], tasks=[job]).akickoff()
