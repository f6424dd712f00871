"""What staff read of a process is French: a timer without its label stops the start."""

from __future__ import annotations

from dataclasses import replace

from coopflow import house
from coopflow.house import House
from workflows.processes import DEFINITIONS


def test_every_timer_of_every_process_has_its_label():
    assert all(t.label for d in DEFINITIONS.values() for t in d.timers)
    assert house.problems(House.of()) == []


def test_a_timer_without_label_is_named(monkeypatch):
    invitation = DEFINITIONS["invitation"]
    timers = [replace(t, label="") if t.name == "expiry" else t for t in invitation.timers]
    monkeypatch.setattr(invitation, "timers", timers)
    assert house.problems(House.of()) == [
        "invitation : le minuteur « expiry » n'a pas de libellé "
        "(TimerRule.label, ce qu'en lit l'équipe dans l'historique)."
    ]
