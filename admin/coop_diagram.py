"""The picture of one coop's processes: one node per process definition with where the
coop stands in it, an arrow per prerequisite (from the process needed to the one that
needs it) and a dashed arrow per effect, drawn by Graphviz's ``dot``.

Like the process diagrams (:mod:`admin.diagrams`), it is drawn from the definitions the
engine runs, inlined as an SVG that refers to nothing outside itself, and cached: the
render is keyed on what it shows, so two coops at the same point share it.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import graphviz
from markupsafe import Markup

from admin.coop_processes import ProcessStatus, Status, states_fr, stuck_title
from admin.diagrams import (
    BLUE,
    CURRENT_FILL,
    DARK,
    FONT,
    FONT_SIZE,
    GREY,
    RED,
    SMALL_SIZE,
    render_svg,
)
from workflows.engine.definition import Definition
from workflows.formatting import french_spacing
from workflows.typography import la_cooperative

GREEN, AMBER = "#198754", "#997404"
#: Fill and outline of a node, by status (Bootstrap's palette, its subtle backgrounds).
COLOURS: dict[Status, tuple[str, str]] = {
    Status.DONE: ("#d1e7dd", GREEN),
    Status.ENDED: ("#e9ecef", GREY),
    Status.STUCK: ("#f8d7da", RED),
    Status.IN_PROGRESS: (CURRENT_FILL, BLUE),
    Status.WAITING: ("#fff3cd", AMBER),
    Status.NOT_STARTED: ("#ffffff", GREY),
}
#: Characters per line of a node: keeps the picture readable on a phone.
WRAP = 26


@dataclass(frozen=True)
class _Node:
    name: str
    title: str
    state: str
    notes: tuple[str, ...]
    status: Status


@dataclass(frozen=True)
class _Arrow:
    source: str
    dest: str
    label: str
    effect: bool
    met: bool


def coop_svg(
    statuses: Sequence[ProcessStatus], definitions: Mapping[str, Definition], coop_name: str
) -> Markup:
    """The picture of the coop's processes (``statuses``, from
    :func:`admin.coop_processes.coop_processes`) as an inline ``<svg>``.

    Raises :class:`RuntimeError` when Graphviz's ``dot`` program is not installed.
    """
    nodes = tuple(_node(s) for s in statuses)
    names = {n.name for n in nodes}
    arrows: list[_Arrow] = []
    for s in statuses:
        for prerequisite, met in s.prerequisites:
            if prerequisite.process not in names:
                continue
            label = states_fr(definitions.get(prerequisite.process), prerequisite.states)
            if prerequisite.this_year:
                label += " (cette année scolaire)"
            arrows.append(_Arrow(prerequisite.process, s.process, label, False, met))
        for effect in s.definition.effects:
            target = definitions.get(effect.process)
            if target is None or effect.process not in names:
                continue
            trigger = next(
                (t.label for t in target.transitions if t.trigger == effect.trigger),
                effect.trigger,
            )
            when = s.definition.label(effect.state)
            arrows.append(
                _Arrow(s.process, effect.process, f"à « {when} » : {trigger}", True, False)
            )
    label = f"Processus de {la_cooperative(coop_name)} : " + " ; ".join(
        f"{n.title} : {n.state}" for n in nodes
    )
    return Markup(_render(nodes, tuple(arrows), label))


def _node(s: ProcessStatus) -> _Node:
    notes: list[str] = []
    if s.school_year:
        notes.append(f"Année {s.school_year}")
    if s.status == Status.STUCK and s.case is not None and s.case.stuck_reason:
        notes.append(f"Bloqué : {stuck_title(s.definition, s.case.stuck_reason)}")
    notes += [w.reason for w in s.waiting]
    return _Node(s.process, s.title, s.state_label, tuple(notes), s.status)


@lru_cache(maxsize=512)
def _render(nodes: tuple[_Node, ...], arrows: tuple[_Arrow, ...], label: str) -> str:
    # Seven processes make three columns: shrunk to a phone's width their text would be
    # unreadable, so a narrow screen scrolls the picture within its frame instead.
    return render_svg(_graph(nodes, arrows), label, css_class="process-diagram coop-diagram")


def _lines(text: str) -> str:
    """``text`` escaped for an HTML-like label, wrapped on several lines (never at the
    non-breaking spaces of French typography)."""
    lines = textwrap.wrap(french_spacing(text), WRAP)
    return "<BR/>".join(html.escape(line, quote=False) for line in lines)


def _graph(nodes: tuple[_Node, ...], arrows: tuple[_Arrow, ...]) -> graphviz.Digraph:
    graph = graphviz.Digraph(
        name="coop",
        graph_attr={
            "rankdir": "LR",
            "id": "coop-diagram",
            "fontname": FONT,
            "nodesep": "0.3",
            "ranksep": "0.45",
            "bgcolor": "transparent",
            "pad": "0.1",
        },
        node_attr={
            "shape": "box",
            "fontname": FONT,
            "fontsize": str(FONT_SIZE),
            "fontcolor": DARK,
            "margin": "0.15,0.08",
        },
        edge_attr={"fontname": FONT, "fontsize": str(SMALL_SIZE), "fontcolor": DARK},
    )
    for node in nodes:
        fill, outline = COLOURS[node.status]
        styles = ["rounded", "filled"]
        if node.status in (Status.WAITING, Status.NOT_STARTED):
            styles.append("dashed")
        text = f"<B>{_lines(node.title)}</B><BR/>{_lines(node.state)}"
        for note in node.notes:
            text += f'<BR/><FONT POINT-SIZE="{SMALL_SIZE}">{_lines(note)}</FONT>'
        graph.node(
            node.name,
            label=f"<{text}>",
            style=",".join(styles),
            fillcolor=fill,
            color=outline,
            penwidth="2" if node.status == Status.STUCK else "1.2",
            id=f"coop-process-{node.name}",
            **{"class": f"process {node.status.value}"},
        )
    for n, arrow in enumerate(arrows):
        attrs = {"label": _lines(arrow.label), "id": f"coop-arrow-{n}"}
        if arrow.effect:
            # An effect orders nothing: it does not push its process a column further.
            attrs.update(style="dashed", color=BLUE, fontcolor=BLUE, constraint="false")
            attrs["class"] = f"effect from-{arrow.source} to-{arrow.dest}"
        else:
            attrs.update(color=GREEN if arrow.met else GREY, penwidth="1.5")
            met = "met" if arrow.met else "unmet"
            attrs["class"] = f"prerequisite {met} from-{arrow.source} to-{arrow.dest}"
        attrs["label"] = f"<{attrs['label']}>"
        graph.edge(arrow.source, arrow.dest, **attrs)
    return graph
