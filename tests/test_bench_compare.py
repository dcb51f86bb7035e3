"""``anycrew bench --compare crewai``: the harness's logic without CrewAI, and the real thing.

The harness (``anycrew/bench/peers/crewai_harness.py``) imports CrewAI only inside
its scenarios, so its argument handling, its simulator mirror and its loopback
guard are tested here in anycrew's own environment. The run against CrewAI
itself needs ``.venv-peers`` (``make bench-peers``) and is skipped without it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from anycrew.adapters.llm.sim import default_reply
from anycrew.bench import compare
from anycrew.bench._common import Figure
from anycrew.bench.peers import crewai_harness
from anycrew.bench.peers.crewai_harness import LoopbackGuard, NetworkRefused
from anycrew.bench.runner import build_parser, document_of, main

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / ".venv-peers"


@pytest.fixture
def guard() -> Iterator[LoopbackGuard]:
    with LoopbackGuard().installed() as installed:
        yield installed


def test_guard_refuses_a_non_loopback_connect_before_sending(guard: LoopbackGuard) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Non-blocking: had the real connect run, it would have sent a SYN and
        # raised BlockingIOError (EINPROGRESS); the guard raises first.
        sock.setblocking(False)
        with pytest.raises(NetworkRefused, match=r"refused connect to 192\.0\.2\.1:80"):
            sock.connect(("192.0.2.1", 80))
        with pytest.raises(OSError, match="not connected"):  # not even in progress
            sock.getpeername()
        with pytest.raises(NetworkRefused):
            sock.connect_ex(("192.0.2.1", 443))
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        pytest.raises(NetworkRefused),
    ):
        udp.sendto(b"x", ("192.0.2.1", 53))
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        pytest.raises(NetworkRefused),
    ):
        udp.sendmsg([b"x"], [], 0, ("192.0.2.1", 53))
    with pytest.raises(NetworkRefused, match=r"name lookup of example\.com"):
        socket.getaddrinfo("example.com", 443)
    for lookup in (socket.gethostbyname, socket.gethostbyname_ex, socket.gethostbyaddr):
        with pytest.raises(NetworkRefused):
            lookup("example.com")
    assert isinstance(NetworkRefused("x"), OSError)  # libraries treat it as a network error
    assert guard.refused == 8
    assert guard.targets[0] == "connect to 192.0.2.1:80"


def test_guard_lets_loopback_through(guard: LoopbackGuard) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert socket.getaddrinfo("localhost", port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            accepted, _ = server.accept()
            accepted.close()
            assert client.getpeername()[1] == port
    assert guard.refused == 0


def test_guard_uninstalls() -> None:
    original = (
        socket.socket.connect,
        socket.socket.sendmsg,
        socket.getaddrinfo,
        socket.gethostbyname,
    )
    guard = LoopbackGuard()
    with guard.installed():
        assert socket.socket.connect is not original[0]
        assert socket.gethostbyname is not original[3]
    assert (
        socket.socket.connect,
        socket.socket.sendmsg,
        socket.getaddrinfo,
        socket.gethostbyname,
    ) == original


def test_harness_arguments() -> None:
    args = crewai_harness.parse_args([])
    assert args.scenarios == ["overhead", "fanout", "events", "cancel"]
    assert args.n == [10, 100, 1000]
    assert crewai_harness.parse_args(["cancel", "overhead"]).scenarios == ["overhead", "cancel"]
    for bad in (["chain"], ["--n", "5000"], ["--n", "0"], ["--latency", "-1"]):
        with pytest.raises(SystemExit):
            crewai_harness.parse_args(bad)


def test_harness_mirrors_the_simulator_reply() -> None:
    task = [
        {"role": "system", "content": "You are Analyst 0."},
        {"role": "user", "content": "\nCurrent Task: Describe x, part 0\n\nBegin!"},
    ]
    plain = [{"role": "user", "content": "hello there"}]
    for messages in (task, plain):
        assert crewai_harness.simulated_reply(messages) == default_reply(messages)  # type: ignore[arg-type]


def test_what_the_harness_is_asked_to_run() -> None:
    ns = (10, 100, 1000, 10_000)
    assert compare.harness_args(["overhead", "fanout", "chain"], ns, 0.05, False) == [
        *["overhead", "fanout", "--latency", "0.05", "--n", "10", "100", "1000"]
    ]
    # No N within CrewAI's range: fanout is left out, not run at 10,000.
    assert compare.harness_args(["fanout", "cancel"], (10_000,), 0.05, True) == [
        *["cancel", "--latency", "0.05", "--quick"]
    ]
    assert compare.harness_args(["chain", "threads"], ns, 0.05, False) is None


def test_missing_peer_environment_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venv = tmp_path / "no-peers"
    problem = compare.check_venv(venv)
    assert problem is not None
    assert "make bench-peers" in problem
    assert str(venv) in problem
    with pytest.raises(SystemExit) as exit_info:  # before anything runs
        main(["--compare", "crewai", "--peers-venv", str(venv), "--backend", "asyncio"])
    assert exit_info.value.code == 2
    assert "run `make bench-peers`" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["chain", "--compare", "crewai", "--peers-venv", str(venv)])
    assert "none of them is selected" in capsys.readouterr().err


def test_report_merges_both_systems() -> None:
    ours = [
        Figure("overhead", "1x1 median", 500.0, "us", "asyncio"),
        Figure("overhead", "1x1 median", 700.0, "us", "trio"),
        Figure("cancel", "akickoff x20 LLM calls started after cancel", 0, "calls", "asyncio"),
        Figure("chain", "10 tasks wall", 0.52, "s", "asyncio"),
    ]
    peer = compare.PeerRun(
        "crewai",
        "1.15.30",
        [
            Figure("overhead", "1x1 median", 30_000.0, "us", "asyncio"),
            Figure("cancel", "akickoff x20 LLM calls started after cancel", 3, "calls", "asyncio"),
            Figure("fanout", "n=10 floor (bare asyncio sleeps)", 0.05, "s", "asyncio"),
        ],
        {"system": "crewai", "version": "1.15.30", "network": {"refused": 0, "targets": []}},
    )
    rows = compare.comparison_rows(ours, peer, "asyncio")
    assert rows == [
        {
            "scenario": "overhead",
            "name": "1x1 median",
            "unit": "us",
            "anycrew_backend": "asyncio",
            "anycrew": 500.0,
            "crewai": 30_000.0,
            "ratio": 60.0,
        },
        {
            "scenario": "cancel",
            "name": "akickoff x20 LLM calls started after cancel",
            "unit": "calls",
            "anycrew_backend": "asyncio",
            "anycrew": 0,
            "crewai": 3,
            "ratio": None,
        },
    ]
    table = compare.comparison_table(rows, "crewai", "asyncio").splitlines()
    assert table[0].split() == [
        *["scenario", "figure", "unit", "anycrew", "(asyncio)", "crewai", "crewai/anycrew"]
    ]
    assert table[2].split()[-3:] == ["500", "30,000", "60x"]
    assert table[3].split()[-3:] == ["0", "3", "-"]

    args = build_parser().parse_args(["--compare", "crewai"])
    document = document_of(args, ["overhead"], [10], ["asyncio"], ours, [], peer, rows)
    assert document["comparison"] == rows
    crewai = document["peers"]["crewai"]
    assert crewai["version"] == "1.15.30"
    assert crewai["network"] == {"refused": 0, "targets": []}
    assert [f["name"] for f in crewai["figures"]] == [f.name for f in peer.figures]
    assert len(document["figures"]) == len(ours)
    assert "peers" not in document_of(args, ["overhead"], [10], ["asyncio"], ours, [], None, [])


@pytest.mark.skipif(
    not compare.peer_python(PEERS).is_file(),
    reason="CrewAI's environment .venv-peers is missing (make bench-peers creates it)",
)
@pytest.mark.timeout(900)
def test_real_comparison_with_crewai_at_tiny_sizes(tmp_path: Path) -> None:
    out, chart = tmp_path / "bench.json", tmp_path / "fanout.svg"
    args = [*["overhead", "fanout", "cancel", "events", "--backend", "asyncio", "--quick"]]
    args += ["--n", "3", "--compare", "crewai", "--json", str(out), "--plot", str(chart)]
    done = subprocess.run(
        [sys.executable, "-m", "anycrew", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "[bench] crewai: cancel" in done.stderr  # the harness's progress, relayed
    assert "side by side with crewai" in done.stdout

    document = json.loads(out.read_text(encoding="utf-8"))
    crewai = document["peers"]["crewai"]
    assert crewai["version"].startswith("1.")
    assert isinstance(crewai["network"]["refused"], int)  # reported, whatever it was
    assert set(crewai["telemetry_opt_outs"]) >= {"CREWAI_DISABLE_TELEMETRY", "OTEL_SDK_DISABLED"}
    peer = {(f["scenario"], f["name"]): f["value"] for f in crewai["figures"]}
    assert peer["overhead", "1x1 median"] > 0
    assert peer["fanout", "n=3 wall"] > 0
    assert peer["events", "events per run"] > 0
    assert peer["cancel", "akickoff x20 LLM calls in flight at cancel"] > 0
    assert ("cancel", "kickoff_async x5 LLM calls started after cancel") in peer
    paired = {(row["scenario"], row["name"]) for row in document["comparison"]}
    assert {
        ("overhead", "1x1 median"),
        ("fanout", "n=3 wall"),
        ("import", "import the package"),
    } <= paired
    ours = {(f["scenario"], f["name"]): f["value"] for f in document["figures"]}
    assert ours["cancel", "akickoff x20 LLM calls started after cancel"] == 0

    systems = {
        group.get("data-system")
        for group in ET.parse(chart).getroot().iter("{http://www.w3.org/2000/svg}g")
        if group.get("class") == "series"
    }
    assert systems == {"anycrew", "crewai"}
