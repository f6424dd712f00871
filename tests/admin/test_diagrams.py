"""The process diagrams: drawn from the definition, safe to inline, the current state shown."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from admin import diagrams
from admin.diagrams import RED, duration_fr, process_svg
from workflows.engine.definition import STAFF, Definition, State, StuckRule, TimerRule, Transition
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
    label = "Schéma du processus « Invitation et mot de passe » ; état actuel : Lien expiré"
    assert root.get("role") == "img"
    assert root.get("aria-label") == label
    # The only tooltip is the French one: dot's own titles name states in English.
    assert [t.text for t in root.iter("title")] == [label]
    assert process_svg(INVITATION).count("état actuel") == 0


def test_final_and_stuck_states_are_drawn_apart():
    rule = StuckRule("waiting_too_long", "Trop long.", "remind", "Relancer", "Attente trop longue")
    definition = Definition(
        name="demo_diagram",
        version=1,
        title="Démonstration",
        initial="draft",
        states=[
            State("draft", "Brouillon"),
            State("blocked", "En attente du rectorat", stuck=rule),
            State("done", "Terminé", final=True),
        ],
        transitions=[
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
    words = _words(root)
    assert "Relancer le rectorat" in words  # an internal transition, drawn as a loop
    assert "Attente trop longue après 2 j 12 h" in words


def test_durations_read_short():
    assert duration_fr(timedelta(days=3)) == "3 j"
    assert duration_fr(timedelta(days=1, hours=12)) == "1 j 12 h"
    assert duration_fr(timedelta(minutes=45)) == "45 min"


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
