"""Process diagrams drawn from the definitions themselves, with Graphviz's ``dot``.

The diagram is never drawn by hand: states, transitions and timers come from the same
:class:`~workflows.engine.definition.Definition` the engine runs, so a change to a process shows
on its diagram at once. The SVG is inlined in the back-office pages: it carries no
reference to anything outside itself, and renders are cached (``dot`` takes ~30 ms).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

import graphviz
from markupsafe import Markup, escape

from workflows.engine.definition import Definition, TimerRule, Transition

FONT = "DejaVu Sans, Arial, sans-serif"
#: Bootstrap's palette, so the diagram matches the pages around it.
RED, BLUE, GREY, DARK = "#dc3545", "#0d6efd", "#6c757d", "#212529"
CURRENT_FILL = "#cfe2ff"
#: Characters per line of a label: keeps the drawing narrow enough for ~900 px.
WRAP = 14
START = "__start__"
ANY_STATE = "__any__"


def process_svg(definition: Definition, current: str | None = None) -> Markup:
    """The diagram of ``definition`` as an inline ``<svg>``, ``current`` highlighted.

    Raises :class:`RuntimeError` when Graphviz's ``dot`` program is not installed.
    """
    if current is not None and current not in definition.state_by_name:
        current = None  # a state a later version removed: draw the process, no highlight
    return Markup(_render(_Key(definition), current))


class _Key:
    """Caches a render by process name and version (a Definition is not hashable)."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self.ident = (definition.name, definition.version)

    def __hash__(self) -> int:
        return hash(self.ident)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and other.ident == self.ident


@lru_cache(maxsize=256)
def _render(key: _Key, current: str | None) -> str:
    return render_svg(_graph(key.definition, current), _aria_label(key.definition, current))


def render_svg(graph: graphviz.Digraph, label: str, css_class: str = "process-diagram") -> str:
    """``graph`` drawn by ``dot`` as one inline ``<svg>`` named ``label`` (in French).

    Raises :class:`RuntimeError` when Graphviz's ``dot`` program is not installed.
    """
    try:
        svg = graph.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound as exc:
        raise RuntimeError(
            "Graphviz's `dot` program is missing: install the Debian package graphviz "
            "(`make system-packages`, or `apt-get install graphviz`) to draw process diagrams."
        ) from exc
    return _inline(svg, label, css_class)


# Building the graph ------------------------------------------------------------------


def _wrap(text: str) -> str:
    """``text`` escaped for ``dot`` and wrapped on several centred lines."""
    return "\\n".join(graphviz.escape(line) for line in textwrap.wrap(text, WRAP) or [""])


def duration_fr(after: timedelta) -> str:
    """``3 j``, ``1 j 12 h``, ``45 min``: a timer's delay in a few characters."""
    minutes = int(after.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "j"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts) or "0 min"


def _delay(timer: TimerRule, definition: Definition) -> str:
    if isinstance(timer.after, timedelta):
        return duration_fr(timer.after)
    # Computed per case (e.g. the AD's own validity): the definition names it.
    return definition.duration_labels.get(timer.after, "un délai variable")


def is_wildcard(definition: Definition, t: Transition) -> bool:
    """A transition allowed from every non-final state (``*``, e.g. cancel): a way out
    of the process rather than a step of it, drawn once instead of once per state."""
    open_states = {s.name for s in definition.states if not s.final}
    return len(open_states) > 2 and set(t.sources) == open_states


@dataclass
class _Edge:
    labels: list[str] = field(default_factory=list)
    delays: list[str] = field(default_factory=list)

    def add(self, label: str, delays: list[str]) -> None:
        if label not in self.labels:
            self.labels.append(label)
        self.delays += [d for d in delays if d not in self.delays]

    def text(self) -> str:
        lines = [_wrap(label) for label in self.labels]
        if self.delays:
            lines.append(_wrap("après " + ", ".join(self.delays)))
        return "\\n".join(lines)


def _graph(definition: Definition, current: str | None) -> graphviz.Digraph:
    graph = graphviz.Digraph(
        name=definition.name,
        graph_attr={
            "rankdir": "LR",
            "id": f"diagram-{definition.name}",
            "fontname": FONT,
            "nodesep": "0.15",
            "ranksep": "0.2",
            "bgcolor": "transparent",
            "pad": "0.1",
        },
        node_attr={
            "shape": "box",
            "style": "rounded",
            "fontname": FONT,
            "fontsize": "12",
            "color": DARK,
            "fontcolor": DARK,
            "margin": "0.12,0.06",
        },
        edge_attr={"fontname": FONT, "fontsize": "10", "color": GREY, "fontcolor": DARK},
    )
    graph.node(START, label="", shape="circle", style="filled", fillcolor=DARK, width="0.15")
    graph.edge(START, definition.initial, id=f"{definition.name}-start", arrowsize="0.7")

    for state in definition.states:
        styles = ["rounded"]
        attrs = {"id": f"{definition.name}-state-{state.name}", "class": "state"}
        if state.final:
            attrs["peripheries"] = "2"
            attrs["class"] += " final"
        if state.stuck is not None:
            attrs.update(color=RED, fontcolor=RED, penwidth="2")
            attrs["class"] += " stuck"
        if state.name == current:
            styles += ["filled", "bold"]
            attrs.update(fillcolor=CURRENT_FILL, penwidth="3")
            attrs["class"] += " current"
        if state.name == definition.initial:
            attrs["class"] += " initial"
        graph.node(state.name, label=_wrap(state.label), style=",".join(styles), **attrs)

    # Timers fire triggers: the edge they take is dashed and says after how long.
    timed: dict[tuple[str, str], list[str]] = {}
    for timer in definition.timers:
        if timer.trigger is not None:
            timed.setdefault((timer.state, timer.trigger), []).append(_delay(timer, definition))

    edges: dict[tuple[str, str, bool], _Edge] = {}
    for t in definition.transitions:
        sources = [ANY_STATE] if is_wildcard(definition, t) else list(t.sources)
        for source in sources:
            delays = timed.get((source, t.trigger), [])
            dest = t.dest or source  # internal: a loop on the state
            edges.setdefault((source, dest, bool(delays)), _Edge()).add(t.label, delays)
    if any(source == ANY_STATE for source, _, _ in edges):
        graph.node(
            ANY_STATE,
            label=_wrap("Depuis tout état non final"),
            shape="note",
            style="dashed",
            color=GREY,
            fontcolor=GREY,
            id=f"{definition.name}-any-state",
        )
    for n, ((source, dest, is_timed), edge) in enumerate(edges.items()):
        attrs = {"id": f"{definition.name}-edge-{n}"}
        if is_timed:
            attrs.update(style="dashed", color=BLUE, fontcolor=BLUE)
        if source == ANY_STATE:
            attrs["style"] = "dashed"
        graph.edge(source, dest, label=edge.text(), **attrs)

    # Timers that make a case stuck: a red dashed loop saying after how long and why.
    for timer in definition.timers:
        if timer.stuck is not None:
            why = timer.stuck.title or "dossier bloqué"
            graph.edge(
                timer.state,
                timer.state,
                label=_wrap(f"{why} après {_delay(timer, definition)}"),
                style="dashed",
                color=RED,
                fontcolor=RED,
                id=f"{definition.name}-timer-{timer.name}",
            )
    return graph


# Making the SVG safe to inline -----------------------------------------------------

_BEFORE_SVG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
#: dot names each node and edge in a ``<title>``: English identifiers that browsers
#: would show as tooltips. The one title kept is the diagram's own, in French.
_TITLE = re.compile(r"<title>.*?</title>\s*", re.S)
_NAMESPACES = re.compile(r'\s+xmlns(?::xlink)?="[^"]*"')
_SIZE = re.compile(r'\s(width|height)="[^"]*"')
_OPEN_SVG = re.compile(r"<svg\b[^>]*>")
#: What an inlined SVG must never hold: links, scripts, outside resources.
_OUTSIDE = re.compile(r"href|<script|url\(|https?:|<image|<foreignObject", re.I)


def _aria_label(definition: Definition, current: str | None) -> str:
    label = f"Schéma du processus « {definition.title} »"
    if current is not None:
        label += f" ; état actuel : {definition.label(current)}"
    return label


def _inline(svg: str, label: str, css_class: str) -> str:
    """dot's document reduced to one ``<svg>`` element with nothing outside it."""
    svg = _BEFORE_SVG.sub("", svg, count=1)
    svg = _COMMENT.sub("", svg)
    svg = _TITLE.sub("", svg)
    opening = _OPEN_SVG.search(svg)
    assert opening is not None, "dot produced no <svg> element"
    attrs = _SIZE.sub("", _NAMESPACES.sub("", opening.group(0)[len("<svg") : -1]))
    natural = re.search(r'viewBox="[\d.]+ [\d.]+ ([\d.]+) [\d.]+"', attrs)
    # As wide as its container, never wider than dot drew it (1 pt = 4/3 px).
    max_width = f"{float(natural.group(1)) * 4 / 3:.0f}px" if natural else "100%"
    head = (
        f'<svg{attrs} role="img" aria-label="{escape(label)}" class="{css_class}" '
        f'width="100%" style="max-width: {max_width}; height: auto">'
        f"<title>{escape(label)}</title>"
    )
    svg = head + svg[opening.end() :]
    svg = svg.strip()
    if _OUTSIDE.search(svg):
        raise RuntimeError("the process diagram refers to something outside itself")
    return svg
