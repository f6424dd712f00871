"""The process diagrams: drawn from the definition, safe to inline, the current state shown."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest

from admin import diagrams
from admin.diagrams import (
    RED,
    SMALL_SIZE,
    StateCount,
    _graph,
    duration_fr,
    process_map_svg,
    process_svg,
)
from tests.definitions import make_definition
from workflows.engine.definition import STAFF, Definition, State, StuckRule, TimerRule, Transition
from workflows.processes import DEFINITIONS
from workflows.processes.invitation.definition import DEFINITION as INVITATION


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _words(element: ET.Element) -> str:
    """The text a reader sees in ``element``, its wrapped lines joined by spaces."""
    return " ".join(" ".join(t.text or "" for t in element.iter("text")).split())


def _nodes(root: ET.Element) -> dict[str, ET.Element]:
    """State nodes by state name (their ids are ``<process>-state-<name>``)."""
    out = {}
    for g in root.iter("g"):
        marker = "-state-"
        if "state" in g.get("class", "").split() and marker in g.get("id", ""):
            out[g.get("id", "").split(marker, 1)[1]] = g
    return out


def _shapes(node: ET.Element) -> list[ET.Element]:
    return [e for e in node if e.tag in ("path", "polygon", "ellipse")]


def _loops(edge: ET.Element) -> bool:
    """Whether an edge of dot's SVG starts and ends at the same point (a self-loop)."""
    path = next(edge.iter("path"), None)
    points = re.findall(r"-?[\d.]+,-?[\d.]+", path.get("d", "")) if path is not None else []
    return len(points) > 1 and points[0] == points[-1]


Box = tuple[float, float, float, float]


def _bezier(points: list[list[float]], steps: int = 12) -> list[tuple[float, float]]:
    """Points along dot's cubic Bézier segments (start, then three points per segment)."""
    out = []
    for i in range(0, len(points) - 3, 3):
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points[i : i + 4]
        for n in range(steps + 1):
            t = n / steps
            a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
            out.append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))
    return out


def _layout(graph: Any) -> tuple[dict[str, Box], dict[str, Box], dict[str, list[Any]]]:
    """dot's own layout (``-Tjson``): each edge label's box (every line of it), each
    node's box, and the points along each edge; in points."""
    layout = json.loads(graph.pipe(format="json", encoding="utf-8"))
    labels: dict[str, Box] = {}
    nodes: dict[str, Box] = {}
    curves: dict[str, list[Any]] = {}
    for node in layout.get("objects", []):
        x, y = map(float, node["pos"].split(","))
        w, h = float(node["width"]) * 72 / 2, float(node["height"]) * 72 / 2
        nodes[node["name"]] = (x - w, y - h, x + w, y + h)
    for edge in layout.get("edges", []):
        key = edge.get("id", str(edge["_gvid"]))
        size, boxes = 14.0, []
        for op in edge.get("_ldraw_", []):
            if op["op"] == "F":
                size = float(op["size"])
            elif op["op"] == "T":
                (x, y), w = op["pt"], float(op["width"])
                left = {"c": x - w / 2, "l": x, "r": x - w}[op["align"]]
                boxes.append((left, y - 0.25 * size, left + w, y + 0.8 * size))
        if boxes:
            labels[key] = (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
        curves[key] = [p for op in edge.get("_draw_", []) if op["op"] == "b" for p in op["points"]]
    return labels, nodes, curves


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(point: tuple[float, float], box: Box, margin: float = 1.0) -> bool:
    x, y = point
    return box[0] + margin < x < box[2] - margin and box[1] + margin < y < box[3] - margin


def _legibility_problems(graph: Any) -> list[str]:
    labels, nodes, curves = _layout(graph)
    problems = []
    names = sorted(labels)
    for i, a in enumerate(names):
        problems += [f"{a} over {b}" for b in names[i + 1 :] if _overlap(labels[a], labels[b])]
        problems += [f"{a} over state {n}" for n, box in nodes.items() if _overlap(labels[a], box)]
        problems += [
            f"{edge} through the label of {a}"
            for edge, points in curves.items()
            if edge != a and any(_inside(p, labels[a]) for p in _bezier(points))
        ]
    return problems


def test_every_state_and_transition_of_the_invitation_appears():
    svg = str(process_svg(INVITATION))
    words = _words(_parse(svg))
    for state in INVITATION.states:
        assert state.label in words, state.name
    for transition in INVITATION.transitions:
        assert transition.label in words, transition.trigger
    # Timers say after how long they fire.
    assert "après 3 j, 6 j" in words
    assert "après la validité du lien" in words
    # Cancel is allowed from every open state: drawn once, from a note saying so.
    assert "Depuis tout état non final" in words
    assert words.count("Annuler") == 1


def test_the_current_state_and_only_it_is_highlighted():
    root = _parse(str(process_svg(INVITATION, "invited")))
    nodes = _nodes(root)
    assert set(nodes) == {s.name for s in INVITATION.states}
    current = [name for name, g in nodes.items() if "current" in g.get("class", "").split()]
    assert current == ["invited"]
    for name, g in nodes.items():
        fills = {shape.get("fill") for shape in _shapes(g)}
        if name == "invited":
            assert fills == {diagrams.CURRENT_FILL}
        else:
            assert fills == {"none"}, name

    plain = _nodes(_parse(str(process_svg(INVITATION))))
    assert not [g for g in plain.values() if "current" in g.get("class", "")]


def test_the_svg_is_accessible_and_safe_to_inline():
    svg = str(process_svg(INVITATION, "expired"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<!--" not in svg
    assert "http" not in svg and "<script" not in svg.lower() and "href" not in svg
    root = _parse(svg)
    # In French typography: non-breaking spaces inside « » and before « ; » and « : ».
    label = (
        "Schéma du processus «\u00a0Invitation et mot de passe\u00a0»\u00a0; "
        "état actuel\u00a0: Lien expiré"
    )
    assert root.get("role") == "img"
    assert root.get("aria-label") == label
    # The only tooltip is the French one: dot's own titles name states in English.
    assert [t.text for t in root.iter("title")] == [label]
    assert process_svg(INVITATION).count("état actuel") == 0


def test_final_and_stuck_states_are_drawn_apart():
    rule = StuckRule("waiting_too_long", "Trop long.", "remind", "Relancer", "Attente trop longue")
    definition = make_definition(
        "demo_diagram",
        "Démonstration",
        [
            ("draft", "Brouillon"),
            State("blocked", "En attente du rectorat", stuck=rule),
            ("done", "Terminé"),
        ],
        [
            Transition("submit", "draft", "blocked", "Soumettre", by=frozenset({STAFF})),
            Transition("accept", "blocked", "done", "Accepter"),
            Transition("nudge", "blocked", None, "Relancer le rectorat"),
        ],
        timers=[
            TimerRule("late", "draft", timedelta(days=2, hours=12), stuck=rule),
        ],
    )
    root = _parse(str(process_svg(definition, "draft")))
    nodes = _nodes(root)
    classes = {name: set(g.get("class", "").split()) for name, g in nodes.items()}
    assert "final" in classes["done"] and "stuck" in classes["blocked"]
    assert "initial" in classes["draft"] and "current" in classes["draft"]
    # A final state has a double border; a stuck one a red outline; the others neither.
    assert len(_shapes(nodes["done"])) == 2
    assert len(_shapes(nodes["draft"])) == len(_shapes(nodes["blocked"])) == 1
    assert {s.get("stroke") for s in _shapes(nodes["blocked"])} == {RED}
    assert RED not in {s.get("stroke") for s in _shapes(nodes["done"]) + _shapes(nodes["draft"])}
    # What happens without leaving a state, and when it gets stuck, is written inside it
    # (a loop's label would lie across the loop and its neighbours).
    blocked, draft = _words(nodes["blocked"]), _words(nodes["draft"])
    assert "↻ Relancer le rectorat" in blocked
    assert "⚠ Attente trop longue après 2 j 12 h" in draft
    assert not [g for g in root.iter("g") if "edge" in g.get("class", "").split() and _loops(g)]


def test_durations_read_short():
    # A number and its unit are never split over two lines (no-break spaces).
    assert duration_fr(timedelta(days=3)) == "3\u00a0j"
    assert duration_fr(timedelta(days=1, hours=12)) == "1\u00a0j 12\u00a0h"
    assert duration_fr(timedelta(minutes=45)) == "45\u00a0min"


def test_renders_are_cached():
    diagrams._render.cache_clear()
    first = process_svg(INVITATION, "created")
    process_svg(INVITATION, "created")
    info = diagrams._render.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    # An unknown state (removed by a later version) draws the process without highlight.
    assert "current" not in str(process_svg(INVITATION, "no_such_state"))
    assert "current" in str(first)


def test_a_missing_dot_program_says_what_to_install(monkeypatch):
    diagrams._render.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RuntimeError, match="install the Debian package graphviz"):
        process_svg(INVITATION, "active")
    diagrams._render.cache_clear()


# Legible at a glance ------------------------------------------------------------------


def _dense() -> Definition:
    """More arrows between fewer states than any real process: labels must still part."""
    states = [(f"s{n}", f"État numéro {n} du processus") for n in range(4)]
    states.append(("end", "Terminé"))
    pairs = [(a, b) for a in range(4) for b in range(4) if a != b]
    transitions = [
        Transition(f"t{a}{b}", f"s{a}", f"s{b}", f"Passer de {a} à {b} sur demande")
        for a, b in pairs
    ]
    transitions += [Transition(f"stay{n}", f"s{n}", None, "Relancer") for n in range(4)]
    transitions.append(Transition("close", "*", "end", "Clore le dossier"))
    return make_definition("dense", "Dense", states, transitions)


@pytest.mark.parametrize("definition", [*DEFINITIONS.values(), _dense()], ids=lambda d: d.name)
def test_no_label_overlaps_another_a_state_or_an_arrow(definition):
    """From dot's own layout: each arrow's label apart from every other label, from the
    states, and from the other arrows' lines."""
    assert _legibility_problems(_graph(definition, None, {})) == []
    counts = {s.name: StateCount(123_456, 12_345, "/admin/") for s in definition.states}
    assert _legibility_problems(_graph(definition, None, counts)) == []


def test_the_legibility_check_sees_labels_over_labels_and_lines():
    """The control: the same arrows with their labels left to float (dot then puts them
    anywhere) are caught."""
    graph = _graph(_dense(), None, {})
    graph.edge_attr["labelfloat"] = "true"
    problems = _legibility_problems(graph)
    assert any(" over " in p for p in problems) and any(" through " in p for p in problems)


@pytest.mark.parametrize("definition", DEFINITIONS.values(), ids=lambda d: d.name)
def test_no_text_is_drawn_smaller_than_12_px(definition):
    """Every text is at least 12 units, and the picture never shrinks below one pixel per
    unit (on a narrow screen its container scrolls it)."""
    root = _parse(str(process_svg(definition, definition.initial)))
    sizes = {float(t.get("font-size", "0")) for t in root.iter("text")}
    assert min(sizes) >= SMALL_SIZE == 12
    width = float(root.get("viewBox", "").split()[2])
    assert f"min-width: {math.ceil(width)}px" in root.get("style", "")
    assert root.get("width") == "100%"


def test_a_process_map_links_each_state_to_its_cases_on_this_site_only():
    counts = {
        s.name: StateCount(
            n, 1 if s.name == "sending" else 0, f"/admin/dossiers/?etat={s.name}&x=1"
        )
        for n, s in enumerate(INVITATION.states)
    }
    svg = str(process_map_svg(INVITATION, counts))
    root = _parse(svg)  # well-formed: « & » escaped in the addresses
    links = {a.get("href"): a.get("aria-label") for a in root.iter("a")}
    assert links["/admin/dossiers/?etat=expired&x=1"] == "Lien expiré : 3 dossiers"
    assert links["/admin/dossiers/?etat=sending&x=1"] == (
        "Envoi de l'invitation en cours : 1 dossier, dont 1 bloqué"
    )
    assert len(links) == len(INVITATION.states)
    assert root.get("role") == "group"  # links inside: not one image
    assert "xlink" not in svg and "coopflowstatelink" not in svg
    outside = {**counts, "active": StateCount(1, 0, "https://example.org/")}
    with pytest.raises(RuntimeError, match="only to this site"):
        process_map_svg(INVITATION, outside)
