"""Flow.plot(): a self-contained HTML drawing of the flow's graph."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from anycrew.events import FlowPlotEvent, event_bus
from anycrew.flow import Flow, and_, listen, or_, router, start
from anycrew.flow.plot import plot_flow


class PlotFlow(Flow[dict]):  # type: ignore[type-arg]
    """Two starts, or_/and_ joins, a router with two labels, a chain and a cycle."""

    @start()
    def begin(self) -> str:
        return "begin"

    @start()
    def fetch(self) -> str:
        return "fetch"

    @listen(or_(begin, fetch))
    def either(self) -> None:
        pass

    @listen(and_(begin, fetch))
    def both(self) -> None:
        pass

    @router(both)
    def decide(self) -> str:
        return "a"

    @listen("a")
    def on_a(self) -> None:
        pass

    @listen("b")
    def on_b(self) -> None:
        pass

    @listen(either)
    def chain_1(self) -> None:
        pass

    @listen(chain_1)
    def chain_2(self) -> None:
        pass

    @listen(and_(on_a, or_(chain_2, "b")))
    def nested(self) -> None:
        pass


METHODS = {"begin", "fetch", "either", "both", "decide", "on_a", "on_b", "chain_1", "chain_2"}


class _Page(HTMLParser):
    """Collects node labels, edge labels, junctions, links and scripts of a plot page."""

    VOID = frozenset({"meta", "link", "br", "hr", "img", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.node_labels: list[str] = []
        self.edge_labels: list[str] = []
        self.node_kinds: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.titles: list[str] = []
        self.h1 = ""
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.attrs += [(tag, k, v) for k, v in found.items()]
        if tag in self.VOID:
            return
        if tag == "g" and "node" in found.get("class", "").split():
            self.node_kinds.append(found["class"])
        self.stack.append((tag, found))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.stack:
            return
        tag, attrs = self.stack[-1]
        classes = attrs.get("class", "").split()
        if tag == "text" and "node-label" in classes:
            self.node_labels.append(data)
        elif tag == "text" and "edge-label" in classes:
            self.edge_labels.append(data)
        elif tag == "title" and "svg" not in {t for t, _ in self.stack}:  # the page's
            self.titles.append(data)
        elif tag == "h1":
            self.h1 += data


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert page.errors == []
    assert page.stack == []  # every element closed
    return page


def test_plot_writes_a_self_contained_graph(tmp_path: Path) -> None:
    seen: list[FlowPlotEvent] = []
    with event_bus.scoped_handlers():

        @event_bus.on(FlowPlotEvent)
        def record(source: Any, event: FlowPlotEvent) -> None:
            seen.append(event)

        path = PlotFlow().plot(tmp_path / "f.html")

    assert path == (tmp_path / "f.html").resolve()
    assert path.is_file()
    page = _parse(path)
    assert METHODS | {"nested"} <= set(page.node_labels)
    assert {"a", "b"} <= set(page.edge_labels)
    # decide is the only router: one edge per label wait (on_a, on_b, and nested's "b").
    assert sorted(page.edge_labels) == ["a", "b", "b"]
    assert page.node_labels.count("AND") == 2  # and_(begin, fetch) and the nested and_
    assert page.node_labels.count("OR") == 2  # or_(begin, fetch) and the nested or_
    kinds = " ".join(page.node_kinds)
    assert kinds.count("node start") == 2
    assert kinds.count("node router") == 1
    assert "PlotFlow" in page.titles[0]
    assert "PlotFlow" in page.h1
    for tag, name, value in page.attrs:
        if name in ("src", "href"):
            assert not re.match(r"\s*(https?:)?//", value), (tag, name, value)
        assert not (tag == "script" and name == "src")
        assert not (tag == "link" and name == "rel" and "stylesheet" in value)
    assert "@import" not in path.read_text(encoding="utf-8")
    assert [(e.flow_name, e.filename) for e in seen] == [("PlotFlow", str(path))]


def test_plot_escapes_labels_and_draws_cycles(tmp_path: Path) -> None:
    class Loop(Flow[dict]):  # type: ignore[type-arg]
        @start()
        def first(self) -> None:
            pass

        @router(or_(first, "<again>"))
        def check(self) -> str:
            return "<again>"

        @listen("<done & gone>")
        def finish(self) -> None:
            pass

    path = plot_flow(Loop, tmp_path / "loop")
    assert path.name == "loop.html"
    text = path.read_text(encoding="utf-8")
    assert "<again>" not in text
    assert "&lt;again&gt;" in text
    assert "&lt;done &amp; gone&gt;" in text
    assert 'class="edge back"' in text  # check -> check, via its own label
    page = _parse(path)
    assert {"first", "check", "finish", "OR"} <= set(page.node_labels)
