"""Draw a Flow's graph as one self-contained HTML file (inline SVG, no external assets).

Nodes are the flow's methods (start, router and plain listener drawn differently),
``and_``/``or_`` joins become small junction nodes, and router labels are written on
the edges they drive. The layout is a plain layered one computed here: a node's layer
is the longest path to it from a start (back edges of cycles ignored), an edge that
spans several layers passes a waypoint in each, and each layer is spread horizontally,
ordered by where its predecessors sit. Back edges are drawn dashed, round the right.
"""

from __future__ import annotations

import html
import itertools
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .decorators import Condition

_CHAR_W, _NODE_H, _JUNCTION_R = 7.8, 36.0, 18.0
_H_GAP, _LAYER_GAP, _MARGIN = 36.0, 96.0, 40.0

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #1f2937; background: #fff; }
h1 { font-size: 20px; margin: 0 0 8px; }
p.note { font-size: 13px; color: #4b5563; margin: 4px 0 12px; max-width: 60em; }
.legend { display: flex; flex-wrap: wrap; gap: 16px; font-size: 13px; margin-bottom: 16px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
svg text { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
.start .shape { fill: #dcfce7; stroke: #15803d; }
.router .shape { fill: #ffedd5; stroke: #c2410c; }
.listener .shape { fill: #dbeafe; stroke: #1d4ed8; }
.label .shape { fill: #f3f4f6; stroke: #6b7280; stroke-dasharray: 4 3; }
.and .shape { fill: #4c1d95; stroke: #4c1d95; }
.or .shape { fill: #f5f3ff; stroke: #6d28d9; }
.shape { stroke-width: 1.6; }
.and text { fill: #fff; font-size: 11px; font-weight: bold; }
.or text { fill: #4c1d95; font-size: 11px; font-weight: bold; }
.edge path { fill: none; stroke: #4b5563; stroke-width: 1.4; }
.edge.back path { stroke: #9ca3af; stroke-dasharray: 6 4; }
.edge-label { fill: #9a3412; font-weight: bold; paint-order: stroke;
  stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
"""

_KINDS = {
    "start": "start method",
    "router": "router",
    "listener": "listener",
    "and": "AND join (all triggers)",
    "or": "OR join (any trigger)",
    "label": "label no router returns",
}


@dataclass
class _Node:
    key: str
    label: str
    kind: str  # one of _KINDS, or "waypoint": where a long edge crosses a layer
    layer: int = 0
    x: float = 0.0
    y: float = 0.0

    @property
    def width(self) -> float:
        if self.kind == "waypoint":
            return 12.0
        if self.kind in ("and", "or"):
            return 2 * _JUNCTION_R
        return len(self.label) * _CHAR_W + (44 if self.kind == "router" else 28)

    @property
    def height(self) -> float:
        if self.kind == "waypoint":
            return 0.0
        return 2 * _JUNCTION_R if self.kind in ("and", "or") else _NODE_H


@dataclass(frozen=True)
class _Edge:
    src: str
    dst: str
    label: str | None = None


def _build(flow_cls: type) -> tuple[dict[str, _Node], list[_Edge], list[str]]:
    """The flow's nodes (by key), its edges, and the keys of its start methods."""
    starts: list[str] = list(getattr(flow_cls, "_starts", []))
    listeners: dict[str, Condition] = dict(getattr(flow_cls, "_listeners", {}))
    routers: list[str] = sorted(getattr(flow_cls, "_routers", frozenset()))
    # A @human_feedback router declares its outcomes, so their edges need no guessing,
    # and it returns nothing else.
    declared: dict[str, list[str]] = {}
    for name, review in sorted(getattr(flow_cls, "_feedback", {}).items()):
        for outcome in review.emit or ():
            declared.setdefault(outcome, []).append(name)
    reviewers = {r for names in declared.values() for r in names}
    guessed = [r for r in routers if r not in reviewers]
    nodes: dict[str, _Node] = {}
    for name in dict.fromkeys([*starts, *listeners, *routers]):
        kind = "router" if name in routers else "start" if name in starts else "listener"
        nodes[f"m:{name}"] = _Node(f"m:{name}", name, kind)
    edges: list[_Edge] = []

    def wire(trigger: str | Condition, target: str) -> None:
        if isinstance(trigger, Condition):
            if len(trigger.triggers) == 1:
                wire(trigger.triggers[0], target)
                return
            junction = f"j:{len(nodes)}"
            nodes[junction] = _Node(junction, trigger.kind, trigger.kind.lower())
            for inner in trigger.triggers:
                wire(inner, junction)
            edges.append(_Edge(junction, target))
        elif f"m:{trigger}" in nodes:
            edges.append(_Edge(f"m:{trigger}", target))
        elif trigger in declared:
            edges.extend(_Edge(f"m:{r}", target, trigger) for r in declared[trigger])
        elif guessed:
            # Which router returns which label is only known at run time, so a label
            # edge is drawn from every router, with the label written on it.
            edges.extend(_Edge(f"m:{r}", target, trigger) for r in guessed)
        else:
            nodes.setdefault(f"l:{trigger}", _Node(f"l:{trigger}", trigger, "label"))
            edges.append(_Edge(f"l:{trigger}", target))

    for name, condition in listeners.items():
        wire(condition, f"m:{name}")
    return nodes, edges, [f"m:{s}" for s in starts]


def _layout(
    nodes: dict[str, _Node], edges: list[_Edge], starts: list[str]
) -> tuple[set[_Edge], list[list[str]]]:
    """Lay the nodes out; return the back edges (closing cycles) and each edge's route.

    A forward edge spanning several layers gets a waypoint node in each layer between,
    so it is routed beside the nodes there rather than through them.
    """
    succ: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        succ[edge.src].append(edge.dst)
    has_incoming = {edge.dst for edge in edges}
    roots = starts + [k for k in nodes if k not in has_incoming] + list(nodes)
    state: dict[str, int] = {}  # 1: on the DFS stack, 2: done
    back_pairs: set[tuple[str, str]] = set()
    postorder: list[str] = []

    def visit(key: str) -> None:
        state[key] = 1
        for nxt in succ[key]:
            if state.get(nxt) == 1:
                back_pairs.add((key, nxt))
            elif nxt not in state:
                visit(nxt)
        state[key] = 2
        postorder.append(key)

    for root in roots:
        if root not in state:
            visit(root)
    for key in reversed(postorder):  # a topological order of the forward edges
        for nxt in succ[key]:
            if (key, nxt) not in back_pairs:
                nodes[nxt].layer = max(nodes[nxt].layer, nodes[key].layer + 1)

    preds: dict[str, list[str]] = defaultdict(list)
    routes: list[list[str]] = []
    for i, edge in enumerate(edges):
        route = [edge.src]
        if (edge.src, edge.dst) not in back_pairs:
            for depth in range(nodes[edge.src].layer + 1, nodes[edge.dst].layer):
                route.append(f"w:{i}:{depth}")
                nodes[route[-1]] = _Node(route[-1], "", "waypoint", depth)
            for a, b in zip(route, [*route[1:], edge.dst], strict=True):
                preds[b].append(a)
        routes.append([*route, edge.dst])
    layers: dict[int, list[_Node]] = defaultdict(list)
    for node in nodes.values():
        layers[node.layer].append(node)

    def span(row: list[_Node]) -> float:
        return sum(n.width for n in row) + _H_GAP * (len(row) - 1)

    widest = max((span(row) for row in layers.values()), default=0.0)
    for depth in sorted(layers):
        row = layers[depth]
        if depth > 0:  # order by the mean x of the predecessors (fewer crossings)
            row.sort(key=lambda n: sum(nodes[p].x for p in preds[n.key]) / len(preds[n.key]))
        x = _MARGIN + (widest - span(row)) / 2
        for node in row:
            node.x, node.y = x + node.width / 2, _MARGIN + 24 + depth * _LAYER_GAP
            x += node.width + _H_GAP
    return {e for e in edges if (e.src, e.dst) in back_pairs}, routes


def _shape(node: _Node) -> str:
    x, y, w, h = node.x, node.y, node.width, node.height
    if node.kind in ("and", "or"):
        return f'<circle class="shape" cx="{x:.1f}" cy="{y:.1f}" r="{_JUNCTION_R}"/>'
    if node.kind == "router":
        pts = [(x - w / 2, y), (x - w / 2 + 14, y - h / 2), (x + w / 2 - 14, y - h / 2)]
        pts += [(x + w / 2, y), (x + w / 2 - 14, y + h / 2), (x - w / 2 + 14, y + h / 2)]
        return f'<polygon class="shape" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>'
    radius = h / 2 if node.kind == "start" else 5
    return (
        f'<rect class="shape" x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" '
        f'height="{h:.1f}" rx="{radius:.1f}"/>'
    )


_Point = tuple[float, float]


def _bezier(p0: _Point, p1: _Point, p2: _Point, p3: _Point, t: float) -> _Point:
    """The point at *t* on the cubic Bézier curve p0..p3."""
    a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
    return (
        a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
        a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1],
    )


def _at_height(p0: _Point, p1: _Point, p2: _Point, p3: _Point, y: float) -> float:
    """The *t* where a downward curve (y rising with t) reaches *y*, by bisection."""
    low, high = 0.0, 1.0
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (mid, high) if _bezier(p0, p1, p2, p3, mid)[1] < y else (low, mid)
    return (low + high) / 2


def _svg(
    nodes: dict[str, _Node], edges: list[_Edge], back: set[_Edge], routes: list[list[str]]
) -> str:
    parts: list[str] = []
    right = max((n.x + n.width / 2 for n in nodes.values()), default=0.0)
    bottom = max((n.y + n.height / 2 for n in nodes.values()), default=0.0)
    bows: dict[str, int] = defaultdict(int)
    labelled: dict[str, int] = defaultdict(int)
    for edge, route in zip(edges, routes, strict=True):
        src, dst = nodes[edge.src], nodes[edge.dst]
        if edge in back:  # around the right side, bowing out further for each one
            bows[edge.dst] += 1
            p0 = (src.x + src.width / 2, src.y + (6 if src is dst else 0))
            p3 = (dst.x + dst.width / 2, dst.y - (6 if src is dst else 0))
            bow = max(p0[0], p3[0]) + 40 + 22 * bows[edge.dst]
            segments = [(p0, (bow, p0[1]), (bow, p3[1]), p3)]
            right = max(right, bow)
        else:  # through the waypoints, leaving and entering each point vertically
            points = [(src.x, src.y + src.height / 2)]
            points += [(nodes[k].x, nodes[k].y) for k in route[1:-1]]
            points.append((dst.x, dst.y - dst.height / 2 - 2))
            segments = []
            for a, b in itertools.pairwise(points):
                mid = (b[1] - a[1]) / 2
                segments.append((a, (a[0], a[1] + mid), (b[0], b[1] - mid), b))
        d = "M{:.1f},{:.1f}".format(*segments[0][0]) + "".join(
            " C{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}".format(*p1, *p2, *p3)
            for _, p1, p2, p3 in segments
        )
        cls = "edge back" if edge in back else "edge"
        marker = "arrow-back" if edge in back else "arrow"
        parts.append(f'<g class="{cls}"><path d="{d}" marker-end="url(#{marker})"/>')
        if edge.label is not None:
            # A back edge's label sits at its midpoint; a forward one's in the gap just
            # below its router (clear of the nodes a long edge passes), in one of three
            # rows so that the labels of one router's edges do not overlap.
            first, row = segments[0], labelled[edge.src] % 3
            labelled[edge.src] += edge not in back
            height = src.y + src.height / 2 + 13 + 15 * row
            t = 0.5 if edge in back else _at_height(*first, height)
            lx, ly = _bezier(*first, t)
            parts.append(
                f'<text class="edge-label" x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="middle">'
                f"{html.escape(edge.label)}</text>"
            )
        parts.append("</g>")
    for node in nodes.values():
        if node.kind == "waypoint":
            continue
        name = html.escape(node.label)
        parts.append(
            f'<g class="node {node.kind}" data-name="{name}"><title>{name} ({_KINDS[node.kind]})'
            f'</title>{_shape(node)}<text class="node-label" x="{node.x:.1f}" '
            f'y="{node.y + 4.5:.1f}" text-anchor="middle">{name}</text></g>'
        )
    width, height = right + _MARGIN, bottom + _MARGIN
    defs = "".join(
        f'<marker id="{mid}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        f'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        for mid, colour in (("arrow", "#4b5563"), ("arrow-back", "#9ca3af"))
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img"><defs>{defs}</defs>'
        + "\n".join(parts)
        + "</svg>"
    )


def _legend() -> str:
    items = []
    for kind, text in _KINDS.items():
        junction = kind in ("and", "or")
        sample = _Node("legend", kind.upper() if junction else "   ", kind)
        sample.x, sample.y = sample.width / 2 + 2, 20.0
        inner = _shape(sample)
        if junction:
            inner += f'<text x="{sample.x:.1f}" y="24" text-anchor="middle">{sample.label}</text>'
        items.append(
            f'<span><svg width="{sample.width + 4:.0f}" height="40"><g class="{kind}">{inner}'
            f"</g></svg>{html.escape(text)}</span>"
        )
    items.append(
        '<span><svg width="44" height="40"><g class="edge back"><path d="M2,20 L40,20"/></g>'
        "</svg>edge back to an earlier method (a cycle)</span>"
    )
    return '<div class="legend">' + "".join(items) + "</div>"


def plot_flow(flow_cls: type, filename: str | os.PathLike[str]) -> Path:
    """Write *flow_cls*'s graph to *filename* as self-contained HTML; return the path.

    A name without a suffix gets ``.html`` (as CrewAI's ``plot("name")`` does).
    """
    path = Path(filename)
    if not path.suffix:
        path = path.with_suffix(".html")
    nodes, edges, starts = _build(flow_cls)
    back, routes = _layout(nodes, edges, starts)
    name = html.escape(flow_cls.__name__)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{name} flow</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>Flow: {name}</h1>\n"
        '<p class="note">Edges into a listener carry the router label it waits for; which '
        "router returns which label is only known at run time, so such an edge is drawn "
        "from every router.</p>\n"
        f"{_legend()}\n{_svg(nodes, edges, back, routes)}\n</body>\n</html>\n"
    )
    path.write_text(page, encoding="utf-8")
    return path.resolve()
