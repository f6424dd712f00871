"""Process diagrams drawn from the definitions themselves, with Graphviz's ``dot``.

The diagram is never drawn by hand: states, transitions and timers come from the same
:class:`~workflows.engine.definition.Definition` the engine runs, so a change to a process shows
on its diagram at once. The SVG is inlined in the back-office pages: it carries no
reference to anything outside itself, and renders are cached (``dot`` takes ~30 ms).
"""

from __future__ import annotations

import html
import math
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

import graphviz
from markupsafe import Markup, escape

from workflows.engine.definition import Definition, TimerRule, Transition
from workflows.formatting import french_spacing

FONT = "DejaVu Sans, Arial, sans-serif"
#: Bootstrap's palette, so the diagram matches the pages around it.
RED, BLUE, GREY, DARK = "#dc3545", "#0d6efd", "#6c757d", "#212529"
CURRENT_FILL = "#cfe2ff"
#: Points (the SVG's own units): a state's name, and every other text. Drawn at least
#: one pixel per unit (:func:`render_svg`), no text is smaller than 12 px.
FONT_SIZE, SMALL_SIZE = 14, 12
#: Characters per line: of a state's name, of the rest of a state, of an arrow's label.
WRAP, NOTE_WRAP, EDGE_WRAP = 14, 18, 14
START = "__start__"
ANY_STATE = "__any__"
#: What a state shows beside its name: what happens there without leaving it, a stuck rule.
STAYS, STUCK_MARK = "↻", "⚠"
#: The ``href`` dot writes for a state that links to its cases, replaced once drawn.
LINK = "coopflowstatelink"


@dataclass(frozen=True)
class StateCount:
    """The cases in one state, as a process page shows them on the diagram."""

    cases: int
    stuck: int
    #: The list of these cases (the case list filtered on the state).
    url: str


def process_svg(definition: Definition, current: str | None = None) -> Markup:
    """The diagram of ``definition`` as an inline ``<svg>``, ``current`` highlighted.

    Raises :class:`RuntimeError` when Graphviz's ``dot`` program is not installed.
    """
    if current is not None and current not in definition.state_by_name:
        current = None  # a state a later version removed: draw the process, no highlight
    return Markup(_render(_Key(definition), current, ()))


def process_map_svg(definition: Definition, counts: Mapping[str, StateCount]) -> Markup:
    """The diagram of ``definition`` with, on each state, how many cases are in it (and
    how many of them are stuck); each state is a link to the list of its cases.

    Raises :class:`RuntimeError` when Graphviz's ``dot`` program is not installed.
    """
    known = tuple(
        (state.name, counts[state.name]) for state in definition.states if state.name in counts
    )
    return Markup(_render(_Key(definition), None, known))


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
def _render(key: _Key, current: str | None, counts: tuple[tuple[str, StateCount], ...]) -> str:
    definition = key.definition
    by_state = dict(counts)
    links = {
        f"{LINK}{n}": (by_state[state.name].url, _count_label(state.label, by_state[state.name]))
        for n, state in enumerate(definition.states)
        if state.name in by_state
    }
    graph = _graph(definition, current, by_state)
    label = _aria_label(definition, current)
    if counts:
        total = sum(c.cases for c in by_state.values())
        label += f" ; {_cases(total)} en tout"
    return render_svg(graph, label, links=links)


def render_svg(
    graph: graphviz.Digraph,
    label: str,
    css_class: str = "process-diagram",
    *,
    shrink: bool = False,
    links: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """``graph`` drawn by ``dot`` as one inline ``<svg>`` named ``label`` (in French).

    It takes the width of its container up to 4/3 of dot's size; never less than dot's
    own size (one pixel per point, so its smallest text stays at least 12 px: a narrow
    screen scrolls it within its container), unless ``shrink``. ``links``: the nodes
    drawn with ``href`` set to a key of it, as ``(address on this site, what the link
    says)``.

    Raises :class:`RuntimeError` when Graphviz's ``dot`` program is not installed.
    """
    try:
        svg = graph.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound as exc:
        raise RuntimeError(
            "Graphviz's `dot` program is missing: install the Debian package graphviz "
            "(`make system-packages`, or `apt-get install graphviz`) to draw process diagrams."
        ) from exc
    # Its <title> (a tooltip) and name: French spaces, as on the page.
    return _inline(svg, french_spacing(label), css_class, shrink=shrink, links=links or {})


# Building the graph ------------------------------------------------------------------


def _wrap(text: str, width: int = EDGE_WRAP) -> str:
    """``text`` escaped for ``dot`` and wrapped on several centred lines (never at the
    non-breaking spaces of French typography: « relancé : accord »)."""
    lines = textwrap.wrap(french_spacing(text), width) or [""]
    return "\\n".join(graphviz.escape(line) for line in lines)


def _html_lines(text: str, width: int, colour: str | None = None, size: int = 0) -> str:
    """``text`` as lines of an HTML-like label, in ``colour`` and ``size`` if given."""
    wrapped = textwrap.wrap(french_spacing(text), width) or [""]
    lines = [html.escape(line, quote=False) for line in wrapped]
    if not (colour or size):
        return "<BR/>".join(lines)
    attrs = (f' COLOR="{colour}"' if colour else "") + (f' POINT-SIZE="{size}"' if size else "")
    return "<BR/>".join(f"<FONT{attrs}>{line}</FONT>" for line in lines)


def number_fr(n: int) -> str:
    """« 12 500 »: thousands apart by a narrow no-break space, as French writes them."""
    return f"{n:,}".replace(",", "\u202f")


def _cases(n: int) -> str:
    """« 1 dossier », « 12 500 dossiers », « aucun dossier »."""
    if n == 0:
        return "aucun dossier"
    return number_fr(n) + (" dossier" if n == 1 else " dossiers")


def _stuck(n: int) -> str:
    return f"dont {number_fr(n)} " + ("bloqué" if n == 1 else "bloqués")


def _count_label(state_label: str, count: StateCount) -> str:
    """What the link of a state says: « Lien expiré : 12 dossiers, dont 12 bloqués »."""
    text = f"{state_label} : {_cases(count.cases)}"
    return text + (f", {_stuck(count.stuck)}" if count.stuck else "")


def duration_fr(after: timedelta) -> str:
    """``3 j``, ``1 j 12 h``, ``45 min``: a timer's delay in a few characters (a number
    and its unit joined by a no-break space: never one line apart)."""
    minutes = int(after.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    units = ((days, "j"), (hours, "h"), (minutes, "min"))
    return " ".join(f"{n}\u00a0{unit}" for n, unit in units if n) or "0\u00a0min"


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

    def inline(self) -> str:
        """The same, on one line: what happens without leaving a state (« Rappel, après 3 j »)."""
        text = " ; ".join(self.labels)
        return text + (", après " + ", ".join(self.delays) if self.delays else "")


def _graph(
    definition: Definition, current: str | None, counts: Mapping[str, StateCount]
) -> graphviz.Digraph:
    graph = graphviz.Digraph(
        name=definition.name,
        graph_attr={
            "rankdir": "LR",
            "id": f"diagram-{definition.name}",
            "fontname": FONT,
            # Room between the states, and for the labels of the arrows between them.
            "nodesep": "0.35",
            "ranksep": "0.3",
            "bgcolor": "transparent",
            "pad": "0.1",
        },
        node_attr={
            "shape": "box",
            "style": "rounded",
            "fontname": FONT,
            "fontsize": str(FONT_SIZE),
            "color": DARK,
            "fontcolor": DARK,
            "margin": "0.14,0.08",
        },
        edge_attr={
            "fontname": FONT,
            "fontsize": str(SMALL_SIZE),
            "color": GREY,
            "fontcolor": DARK,
            "arrowsize": "0.8",
        },
    )
    graph.node(START, label="", shape="circle", style="filled", fillcolor=DARK, width="0.15")
    graph.edge(START, definition.initial, id=f"{definition.name}-start", arrowsize="0.7")

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
            dest = t.dest or source  # internal: written in the state, not drawn as a loop
            edges.setdefault((source, dest, bool(delays)), _Edge()).add(t.label, delays)

    # Inside a state, under its name: what happens there without leaving it (a loop's
    # label sits on the loop's own line and on its neighbours'), and when it gets stuck.
    notes: dict[str, list[str]] = {}
    for (source, dest, is_timed), edge in edges.items():
        if source == dest:
            colour = BLUE if is_timed else GREY
            line = _html_lines(f"{STAYS} {edge.inline()}", NOTE_WRAP, colour, SMALL_SIZE)
            notes.setdefault(source, []).append(line)
    for timer in definition.timers:
        if timer.stuck is not None:
            why = timer.stuck.title or "dossier bloqué"
            text = f"{STUCK_MARK} {why} après {_delay(timer, definition)}"
            notes.setdefault(timer.state, []).append(_html_lines(text, NOTE_WRAP, RED, SMALL_SIZE))

    for n, state in enumerate(definition.states):
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
        lines = [_html_lines(state.label, WRAP), *notes.get(state.name, [])]
        count = counts.get(state.name)
        if count is not None:
            lines.append(f"<B>{_html_lines(_cases(count.cases), NOTE_WRAP, size=SMALL_SIZE)}</B>")
            if count.stuck and state.stuck is None:  # a stuck state: all of them, in red
                lines.append(_html_lines(_stuck(count.stuck), NOTE_WRAP, RED, SMALL_SIZE))
            # A placeholder, made a link on this site once drawn (:func:`_inline`).
            attrs.update(href=f"#{LINK}{n}", tooltip=f"{LINK}{n}")
            attrs["class"] += " counted"
        label = "<" + "<BR/>".join(lines) + ">"
        graph.node(state.name, label=label, style=",".join(styles), **attrs)

    if any(source == ANY_STATE for source, _, _ in edges):
        graph.node(
            ANY_STATE,
            label=_wrap("Depuis tout état non final", WRAP),
            shape="note",
            style="dashed",
            color=GREY,
            fontcolor=GREY,
            fontsize=str(SMALL_SIZE),
            id=f"{definition.name}-any-state",
        )
    for n, ((source, dest, is_timed), edge) in enumerate(edges.items()):
        if source == dest:
            continue  # written inside the state
        attrs = {"id": f"{definition.name}-edge-{n}"}
        if is_timed:
            attrs.update(style="dashed", color=BLUE, fontcolor=BLUE)
        if source == ANY_STATE:
            attrs["style"] = "dashed"
        graph.edge(source, dest, label=edge.text(), **attrs)
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


def _inline(
    svg: str, label: str, css_class: str, *, shrink: bool, links: Mapping[str, tuple[str, str]]
) -> str:
    """dot's document reduced to one ``<svg>`` element with nothing outside it but the
    links to this site's pages that ``links`` names."""
    svg = _BEFORE_SVG.sub("", svg, count=1)
    svg = _COMMENT.sub("", svg)
    svg = _TITLE.sub("", svg)
    opening = _OPEN_SVG.search(svg)
    assert opening is not None, "dot produced no <svg> element"
    attrs = _SIZE.sub("", _NAMESPACES.sub("", opening.group(0)[len("<svg") : -1]))
    natural = re.search(r'viewBox="[\d.]+ [\d.]+ ([\d.]+) [\d.]+"', attrs)
    # As wide as its container, never wider than 4/3 of dot's size (1 pt = 4/3 px), nor
    # narrower than 1 px per point unless asked: its text stays as large as dot set it.
    width = float(natural.group(1)) if natural else 0.0
    sizes = f"max-width: {width * 4 / 3:.0f}px" if natural else "max-width: 100%"
    if natural and not shrink:
        sizes += f"; min-width: {math.ceil(width)}px"
    # Linked states are reachable one by one: a group of links, not a single image.
    role = "group" if links else "img"
    head = (
        f'<svg{attrs} role="{role}" aria-label="{escape(label)}" class="{css_class}" '
        f'width="100%" style="{sizes}; height: auto">'
        f"<title>{escape(label)}</title>"
    )
    svg = head + svg[opening.end() :]
    svg = svg.strip()
    placeholders = {
        f'<a xlink:href="#{key}" xlink:title="{key}">': _link(url, text)
        for key, (url, text) in links.items()
    }
    checked = svg
    for placeholder in placeholders:
        checked = checked.replace(placeholder, "")
    if _OUTSIDE.search(checked):
        raise RuntimeError("the process diagram refers to something outside itself")
    for placeholder, link in placeholders.items():
        svg = svg.replace(placeholder, link)
    return svg


def _link(url: str, text: str) -> str:
    if not url.startswith("/") or url.startswith("//"):
        raise RuntimeError(f"a diagram links only to this site's pages, not to {url!r}")
    return f'<a href="{escape(url)}" aria-label="{escape(text)}">'
