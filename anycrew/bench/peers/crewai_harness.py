"""The CrewAI side of ``anycrew bench --compare crewai``: a standalone script.

It runs under the peer environment's interpreter (``.venv-peers/bin/python
crewai_harness.py ...``, made by ``make bench-peers``), never imports anycrew, and
prints one JSON document on stdout: CrewAI's version, the figures (named as
anycrew's, so the runner can put them side by side) and how many network
connections it refused. Progress lines go to stderr as ``[bench] ...``.

The LLM is a CrewAI custom LLM (a ``BaseLLM`` subclass) that mirrors anycrew's
simulator: the same reply ("Thought: ... Final Answer: Simulated answer to:
<task>"), the same latency (``time.sleep`` in ``call``, ``asyncio.sleep`` in
``acall``, whichever CrewAI uses), token usage counted the same way, and stream
chunk events when ``stream=True``. It never opens a connection.

Network: CrewAI's telemetry opt-outs are set before it is imported, and a
loopback guard wraps ``socket.socket.connect``/``connect_ex``/``sendto`` and
``socket.getaddrinfo`` so that anything addressed beyond 127.0.0.0/8 or ::1 is
refused *before* any packet leaves (and counted), so a silent phone-home can
neither skew the figures nor reach anyone.

Everything that needs CrewAI is imported inside functions, so the argument
handling and the guard can be tested without it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import ipaddress
import json
import logging
import math
import os
import re
import socket
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

#: CrewAI's documented opt-outs, set before CrewAI is imported.
TELEMETRY_OPT_OUTS = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
}
SCENARIOS = ("overhead", "fanout", "events", "cancel")
#: The largest fanout N run on CrewAI (each crew is a copy of a pydantic model tree).
MAX_FANOUT_N = 1000
INPUTS = {"topic": "x"}

# cancel: as anycrew's cancel scenario (see anycrew/bench/cancel.py).
CANCEL_AFTER = 0.2
CANCEL_LATENCY = 1.0
CANCEL_TASKS = 2
SETTLE = 0.2
#: The longest wait for a first call to start before cancelling anyway.
START_LIMIT = 60.0


# --- the loopback guard ---------------------------------------------------------


class NetworkRefused(PermissionError):
    """A connection to a non-loopback address, refused by the harness."""


class LoopbackGuard:
    """Refuses, before any traffic, every connection or lookup beyond loopback.

    ``install()`` wraps ``socket.socket.connect``, ``connect_ex``, ``sendto`` and
    ``socket.getaddrinfo``; ``uninstall()`` puts them back. ``refused`` counts
    the attempts and ``targets`` keeps the first few destinations.
    """

    def __init__(self) -> None:
        self.refused = 0
        self.targets: list[str] = []
        self._lock = threading.Lock()
        self._saved: dict[str, Any] = {}

    def _refuse(self, what: str) -> NetworkRefused:
        with self._lock:
            self.refused += 1
            if len(self.targets) < 20:
                self.targets.append(what)
        return NetworkRefused(
            f"the bench harness allows loopback only; refused {what} "
            "(a peer framework tried to reach the network)"
        )

    def check_address(self, family: int, address: Any) -> None:
        """Raise ``NetworkRefused`` unless *address* is a loopback or local-socket one."""
        if family == getattr(socket, "AF_UNIX", None) or not isinstance(address, tuple):
            return
        host = str(address[0])
        if not is_loopback(host):
            raise self._refuse(f"connect to {host}:{address[1]}")

    def check_host(self, host: Any) -> None:
        """Raise ``NetworkRefused`` unless looking up *host* needs no network."""
        if host is None:
            return
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.lower() != "localhost" and not is_loopback(name):
            raise self._refuse(f"name lookup of {name}")

    def install(self) -> None:
        """Wrap the socket functions (idempotent)."""
        if self._saved:
            return
        guard = self
        saved: dict[str, Any] = {
            "connect": socket.socket.connect,
            "connect_ex": socket.socket.connect_ex,
            "sendto": socket.socket.sendto,
            "sendmsg": socket.socket.sendmsg,
            "getaddrinfo": socket.getaddrinfo,
            "gethostbyname": socket.gethostbyname,
            "gethostbyname_ex": socket.gethostbyname_ex,
            "gethostbyaddr": socket.gethostbyaddr,
        }
        self._saved = saved

        def guarded_connect(sock: socket.socket, address: Any) -> None:
            guard.check_address(sock.family, address)
            saved["connect"](sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
            guard.check_address(sock.family, address)
            result: int = saved["connect_ex"](sock, address)
            return result

        def guarded_sendto(sock: socket.socket, data: Any, *args: Any) -> int:
            guard.check_address(sock.family, args[-1])
            sent: int = saved["sendto"](sock, data, *args)
            return sent

        def guarded_sendmsg(sock: socket.socket, *args: Any) -> int:
            # sendmsg(buffers[, ancdata[, flags[, address]]]): the fourth names a peer.
            if len(args) >= 4 and args[3] is not None:
                guard.check_address(sock.family, args[3])
            sent: int = saved["sendmsg"](sock, *args)
            return sent

        def lookup(name: str) -> Any:
            def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
                guard.check_host(host)
                return saved[name](host, *args, **kwargs)

            return guarded

        socket.socket.connect = guarded_connect  # type: ignore[method-assign, assignment]
        socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign, assignment]
        socket.socket.sendto = guarded_sendto  # type: ignore[method-assign, assignment]
        socket.socket.sendmsg = guarded_sendmsg  # type: ignore[method-assign, assignment]
        socket.getaddrinfo = lookup("getaddrinfo")
        socket.gethostbyname = lookup("gethostbyname")
        socket.gethostbyname_ex = lookup("gethostbyname_ex")
        socket.gethostbyaddr = lookup("gethostbyaddr")

    def uninstall(self) -> None:
        """Put the original socket functions back."""
        if not self._saved:
            return
        for name in ("connect", "connect_ex", "sendto", "sendmsg"):
            setattr(socket.socket, name, self._saved[name])
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
            setattr(socket, name, self._saved[name])
        self._saved = {}

    @contextmanager
    def installed(self) -> Iterator[LoopbackGuard]:
        """The guard, installed for the block."""
        self.install()
        try:
            yield self
        finally:
            self.uninstall()


def is_loopback(host: str) -> bool:
    """Whether *host* is a literal loopback address (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


# --- arguments --------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The harness's argument parser."""
    parser = argparse.ArgumentParser(
        prog="crewai_harness.py",
        description="Run anycrew's benchmark scenarios on CrewAI; JSON on stdout.",
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument("--n", nargs="+", type=int, default=[10, 100, 1000], metavar="N")
    parser.add_argument("--latency", type=float, default=0.05, metavar="S")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse and check *argv*: known scenarios, N within 1..MAX_FANOUT_N, latency >= 0."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    if any(n < 1 or n > MAX_FANOUT_N for n in args.n):
        parser.error(f"every --n must be within 1..{MAX_FANOUT_N} on CrewAI, got {args.n}")
    if args.latency < 0:
        parser.error("--latency must be >= 0")
    args.scenarios = [name for name in SCENARIOS if name in args.scenarios] or list(SCENARIOS)
    return args


def log(message: str) -> None:
    """A progress line on stderr (the parent relays it)."""
    print(f"[bench] crewai: {message}", file=sys.stderr, flush=True)


def figure(scenario: str, name: str, value: float, unit: str) -> dict[str, Any]:
    """One figure, shaped as anycrew's ``Figure.as_dict()`` (backend: asyncio)."""
    return {"backend": "asyncio", "scenario": scenario, "name": name, "value": value, "unit": unit}


# --- the simulator's mirror ---------------------------------------------------------

_TASK_LINE = re.compile(r"^Current Task: (.*)$", re.MULTILINE)


def simulated_reply(messages: Any) -> str:
    """anycrew's simulator reply: a final answer naming the task, else the last message."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    last_user = ""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = str(message.get("content") or "")
        last_user = last_user or content
        match = _TASK_LINE.search(content)
        if match:
            answer = f"Simulated answer to: {match.group(1).strip()}"
            return f"Thought: I have what I need.\nFinal Answer: {answer}"
    return f"Simulated reply to: {last_user.strip()}"


def make_llm_class() -> Any:
    """The custom LLM class (needs CrewAI)."""
    base: Any = importlib.import_module("crewai").BaseLLM
    # CrewAI's own providers run each call in this context (it names the call's events).
    call_context: Any = importlib.import_module("crewai.llms.base_llm").llm_call_context

    class SimLLM(base):  # type: ignore[misc]
        """A CrewAI LLM that answers like anycrew's simulator, offline."""

        latency: float = 0.0
        replies: list[str] = []  # noqa: RUF012 - a pydantic field
        on_call: Any = None

        def _reply(self, messages: Any) -> str:
            if self.on_call is not None:
                self.on_call()
            return self.replies[0] if self.replies else simulated_reply(messages)

        def _finish(self, messages: Any, text: str, **kwargs: Any) -> str:
            task, agent = kwargs.get("from_task"), kwargs.get("from_agent")
            if self.stream:
                for token in re.findall(r"\s*\S+", text):
                    self._emit_stream_chunk_event(token, from_task=task, from_agent=agent)
            prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
            completion = len(text.split())
            self._track_token_usage_internal(
                {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                }
            )
            call_type = importlib.import_module("crewai.events.types.llm_events").LLMCallType
            self._emit_call_completed_event(
                text, call_type.LLM_CALL, from_task=task, from_agent=agent, messages=messages
            )
            return text

        def call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
            if isinstance(messages, str):
                messages = [{"role": "user", "content": messages}]
            with call_context():
                self._emit_call_started_event(
                    messages, from_task=kwargs.get("from_task"), from_agent=kwargs.get("from_agent")
                )
                text = self._reply(messages)
                if self.latency:
                    time.sleep(self.latency)
                return self._finish(messages, text, **kwargs)

        async def acall(self, messages: Any, *args: Any, **kwargs: Any) -> str:
            if isinstance(messages, str):
                messages = [{"role": "user", "content": messages}]
            with call_context():
                self._emit_call_started_event(
                    messages, from_task=kwargs.get("from_task"), from_agent=kwargs.get("from_agent")
                )
                text = self._reply(messages)
                if self.latency:
                    await asyncio.sleep(self.latency)
                return self._finish(messages, text, **kwargs)

        def supports_function_calling(self) -> bool:
            return False

        def get_context_window_size(self) -> int:
            return 128_000

    return SimLLM


def build_crew(
    agents: int = 1,
    tasks: int | None = None,
    *,
    latency: float = 0.0,
    on_call: Any = None,
    stream: bool = False,
    replies: list[str] | None = None,
) -> Any:
    """A sequential crew like anycrew's ``bench._common.build_crew``."""
    crewai = importlib.import_module("crewai")
    llm = make_llm_class()(
        model="sim", latency=latency, on_call=on_call, stream=stream, replies=replies or []
    )
    crew_agents = [
        crewai.Agent(role=f"Analyst {i}", goal="Answer", backstory="Bench", llm=llm, verbose=False)
        for i in range(agents)
    ]
    crew_tasks = [
        crewai.Task(
            description=f"Describe {{topic}}, part {i}",
            expected_output="A line",
            agent=crew_agents[i % agents],
        )
        for i in range(agents if tasks is None else tasks)
    ]
    return crewai.Crew(agents=crew_agents, tasks=crew_tasks, verbose=False)


# --- scenarios ------------------------------------------------------------------------


async def time_calls(call: Callable[[], Awaitable[Any]], repeat: int, warmup: int) -> list[int]:
    """Await *call* warmup times untimed, then *repeat* times; the durations in ns."""
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter_ns()
        await call()
        samples.append(time.perf_counter_ns() - started)
    return samples


def median_us(samples: list[int]) -> float:
    """The median in µs, to 0.01."""
    return round(statistics.median(samples) / 1000, 2)


def p99_us(samples: list[int]) -> float:
    """The nearest-rank 99th percentile in µs, to 0.01."""
    ordered = sorted(samples)
    return round(ordered[max(math.ceil(0.99 * len(ordered)) - 1, 0)] / 1000, 2)


async def overhead(quick: bool) -> list[dict[str, Any]]:
    """Median and p99 of one ``akickoff`` at latency 0, 1x1 and 3x3."""
    repeat, warmup = (5, 2) if quick else (200, 10)
    figures = []
    for size, agents in (("1x1", 1), ("3x3", 3)):
        crew = build_crew(agents)

        async def kickoff(crew: Any = crew) -> None:
            await crew.akickoff(INPUTS)

        samples = await time_calls(kickoff, repeat, warmup)
        figures += [
            figure("overhead", f"{size} median", median_us(samples), "us"),
            figure("overhead", f"{size} p99", p99_us(samples), "us"),
        ]
    return figures


def peak_rss_kb() -> float | None:
    """Peak RSS of this process in KB."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform == "darwin" else float(peak)


async def fanout(ns: Sequence[int], latency: float) -> list[dict[str, Any]]:
    """N crews through ``akickoff_for_each`` against N bare asyncio sleeps."""
    figures = []
    for n in sorted(ns):
        log(f"fanout: {n} crews at {latency} s")
        longest = 0.0

        async def tick() -> None:
            nonlocal longest
            while True:
                before = time.perf_counter()
                await asyncio.sleep(0.001)
                longest = max(longest, time.perf_counter() - before)

        # The ticker runs beside the bare sleeps too, as in anycrew's harness: both
        # sides of the ratio pay for it. Only the crews' stall is reported.
        ticker = asyncio.ensure_future(tick())
        await asyncio.sleep(0.002)
        started = time.perf_counter()
        await asyncio.gather(*(asyncio.sleep(latency) for _ in range(n)))
        floor = time.perf_counter() - started
        crew = build_crew(1, latency=latency)
        # A tick asleep across the build would count it as the crews' stall: let one
        # tick finish after the build, then start the crews' record afresh.
        await asyncio.sleep(0.002)
        longest = 0.0
        rss_before = peak_rss_kb()
        started = time.perf_counter()
        outputs = await crew.akickoff_for_each([{"topic": str(i)} for i in range(n)])
        wall = time.perf_counter() - started
        rss_after = peak_rss_kb()
        ticker.cancel()
        with suppress(asyncio.CancelledError):
            await ticker
        if len(outputs) != n:
            raise RuntimeError(f"fanout: expected {n} crew outputs, got {len(outputs)}")
        label = f"n={n}"
        figures += [
            figure("fanout", f"{label} wall", round(wall, 4), "s"),
            figure("fanout", f"{label} floor (bare asyncio sleeps)", round(floor, 4), "s"),
            figure("fanout", f"{label} ratio to floor", round(wall / floor, 2), "x"),
            figure("fanout", f"{label} max loop stall", round(longest * 1000, 2), "ms"),
        ]
        if rss_before is not None and rss_after is not None:
            per_crew = round((rss_after - rss_before) / n, 2)
            figures.append(figure("fanout", f"{label} peak RSS growth per crew", per_crew, "KB"))
        del outputs
        gc.collect()
    return figures


async def events(quick: bool) -> list[dict[str, Any]]:
    """Events per second to 1 and 6 async bus handlers during a streaming kickoff."""
    crewai_events = importlib.import_module("crewai.events")
    bus = crewai_events.crewai_event_bus
    kinds = [
        getattr(crewai_events, name)
        for name in (
            "CrewKickoffStartedEvent",
            "CrewKickoffCompletedEvent",
            "TaskStartedEvent",
            "TaskCompletedEvent",
            "AgentExecutionStartedEvent",
            "AgentExecutionCompletedEvent",
            "LLMCallStartedEvent",
            "LLMCallCompletedEvent",
            "LLMStreamChunkEvent",
        )
    ]
    chunks = 200 if quick else 20_000
    crew = build_crew(1, stream=True, replies=["tok " * chunks])
    results = []
    for subscribers in (1, 6):
        counts = [0] * subscribers

        def make(position: int, counts: list[int] = counts) -> Any:
            async def handler(source: Any, event: Any) -> None:
                counts[position] += 1

            return handler

        with bus.scoped_handlers():
            for position in range(subscribers):
                for kind in kinds:
                    bus.register_handler(kind, make(position))
            started = time.perf_counter()
            await crew.akickoff(INPUTS)
            await asyncio.to_thread(bus.flush)
            elapsed = time.perf_counter() - started
        if len(set(counts)) != 1:
            raise RuntimeError(f"CrewAI bus handlers saw different event counts: {counts}")
        results.append((subscribers, counts[0], elapsed))
    figures = []
    for subscribers, seen, elapsed in results:
        plural = "handler" if subscribers == 1 else "handlers"
        name = f"bus, {subscribers} async {plural} throughput"
        figures.append(figure("events", name, round(seen / elapsed), "events/s"))
    figures.append(figure("events", "events per run", results[0][1], "events"))
    return figures


async def cancel_one(entry: str, crews: int) -> list[dict[str, Any]]:
    """Cancel *crews* in-flight two-task crews after 0.2 s and count what goes on."""
    starts: list[float] = []
    lock = threading.Lock()
    loop = asyncio.get_running_loop()
    first_call = asyncio.Event()

    def on_call() -> None:  # in the loop's thread (akickoff) or a worker (kickoff_async)
        with lock:
            starts.append(time.perf_counter())
        loop.call_soon_threadsafe(first_call.set)

    async def start(crew: Any) -> None:
        if entry == "akickoff":
            await crew.akickoff_for_each([INPUTS] * crews)
        else:
            # A CrewAI crew cannot run twice at once ("Executor is already running"):
            # one copy per call, as its own kickoff_for_each_async does.
            copies = [crew.copy() for _ in range(crews)]
            await asyncio.gather(*(copy.kickoff_async(INPUTS) for copy in copies))

    await start(build_crew(1, latency=0.05))  # warm the thread pool
    await asyncio.sleep(SETTLE)
    crew = build_crew(1, CANCEL_TASKS, latency=CANCEL_LATENCY, on_call=on_call)
    threads_before = threading.active_count()
    tasks_before = len(asyncio.all_tasks())
    started = time.perf_counter()
    run = asyncio.ensure_future(start(crew))
    await asyncio.sleep(CANCEL_AFTER)
    # CrewAI may take longer than CANCEL_AFTER to start its first call; cancelling
    # before any call is in flight would measure nothing, so wait for one (bounded).
    with suppress(TimeoutError):
        await asyncio.wait_for(first_call.wait(), START_LIMIT)
    cancel_at = time.perf_counter()
    run.cancel()
    with suppress(asyncio.CancelledError):
        await run
    returned = time.perf_counter()
    await asyncio.sleep(SETTLE)
    threads_left = threading.active_count() - threads_before
    tasks_left = len(asyncio.all_tasks()) - tasks_before
    # Whatever kept running gets the time to start its next call before it is counted.
    await asyncio.sleep(CANCEL_TASKS * CANCEL_LATENCY + SETTLE)
    with lock:
        in_flight = sum(t <= cancel_at for t in starts)
        after = sum(t > cancel_at for t in starts)
    label = f"{entry} x{crews}"
    late = round((cancel_at - started - CANCEL_AFTER) * 1000, 2)
    return [
        figure("cancel", f"{label} cancel came late by", late, "ms"),
        figure("cancel", f"{label} LLM calls in flight at cancel", in_flight, "calls"),
        figure(
            "cancel", f"{label} cancel to return", round((returned - cancel_at) * 1000, 2), "ms"
        ),
        figure("cancel", f"{label} LLM calls started after cancel", after, "calls"),
        figure("cancel", f"{label} threads left", threads_left, "threads"),
        figure("cancel", f"{label} tasks left", tasks_left, "tasks"),
    ]


async def cancel(quick: bool) -> list[dict[str, Any]]:
    """The cancel figures for akickoff and kickoff_async."""
    native, shim = (20, 5) if quick else (1000, 50)
    return [*await cancel_one("akickoff", native), *await cancel_one("kickoff_async", shim)]


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every scenario asked for, in order."""
    figures: list[dict[str, Any]] = []
    for name in args.scenarios:
        log(name)
        if name == "overhead":
            figures += await overhead(args.quick)
        elif name == "fanout":
            figures += await fanout(args.n, args.latency)
        elif name == "events":
            figures += await events(args.quick)
        else:
            figures += await cancel(args.quick)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run the harness; the JSON document goes to stdout."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for name, value in TELEMETRY_OPT_OUTS.items():
        os.environ[name] = value
    logging.basicConfig(level=logging.ERROR)  # CrewAI's warnings would drown the progress
    guard = LoopbackGuard()
    with guard.installed():
        log("importing crewai")
        started = time.perf_counter()
        crewai = importlib.import_module("crewai")
        import_s = time.perf_counter() - started
        figures = asyncio.run(run(args))
    figures.insert(0, figure("import", "import the package", round(import_s * 1000, 1), "ms"))
    document = {
        "system": "crewai",
        "version": getattr(crewai, "__version__", None),
        "python": sys.version.split()[0],
        "telemetry_opt_outs": sorted(TELEMETRY_OPT_OUTS),
        "network": {"refused": guard.refused, "targets": guard.targets},
        "figures": figures,
    }
    print(json.dumps(document), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
