"""A thousand crews against one loopback endpoint: the provider limit holds the line."""

from __future__ import annotations

import time

import anyio
import pytest

from anycrew import LLM, Agent, Crew, Task

from ._loopback import Exchange, serve
from .test_llm_openai import completion

pytestmark = pytest.mark.anyio

CREWS = 1000
LIMIT = 50


async def test_a_thousand_crews_share_fifty_connections() -> None:
    async def slow_answer(exchange: Exchange) -> None:
        await anyio.sleep(0.05)  # the model's latency
        topic = exchange.request.json()["messages"][-1]["content"].splitlines()[0]
        await exchange.send_json(completion(f"Final Answer: done with {topic}"))

    async with serve() as server:
        server.default = slow_answer
        llm = LLM(
            model="openai/load",
            base_url=server.url + "/v1",
            api_key="sk-load",
            max_concurrency=LIMIT,
        )
        agent = Agent(role="Worker", goal="g", backstory="b", llm=llm)
        crew = Crew(
            agents=[agent],
            tasks=[Task(description="Handle item {n}", expected_output="ok", agent=agent)],
        )
        started = time.monotonic()
        results = await crew.akickoff_for_each([{"n": n} for n in range(CREWS)])
        elapsed = time.monotonic() - started
    assert [r.raw for r in results] == [
        f"done with Current Task: Handle item {n}" for n in range(CREWS)
    ]
    assert len(server.requests) == CREWS
    assert server.max_active_requests <= LIMIT
    assert server.max_active_connections <= LIMIT
    # The floor is CREWS / LIMIT rounds of 50 ms = 1 s; the bound is only against hangs.
    assert elapsed < 60
