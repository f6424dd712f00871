"""The invitation definition alone: no database, no broker."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.engine.definition import Definition, State, TimerRule
from workflows.engine.definition import Transition as T
from workflows.processes.invitation.definition import DEFINITION


def _triggers(state: str, kind: str | None = None) -> set[str]:
    return {t.trigger for t in DEFINITION.triggers_from(state, kind)}


def test_states_and_finals():
    assert [s.name for s in DEFINITION.states] == [
        "created",
        "sending",
        "invited",
        "expired",
        "bounced",
        "password_set",
        "active",
        "cancelled",
    ]
    assert {s.name for s in DEFINITION.states if s.final} == {"active", "cancelled"}


def test_who_may_do_what():
    assert _triggers("created", "staff") == {"invite", "cancel"}
    assert _triggers("invited", "mandataire") == {"set_password"}
    assert _triggers("invited", "staff") == {"bounce", "resend", "cancel"}
    # the mail relay reports a bounce after the server accepted the message (webhook)
    assert _triggers("invited", "system") == {"remind", "expire", "resend", "bounce"}
    assert _triggers("password_set", "mandataire") == {"first_login", "request_reset"}
    assert _triggers("expired", "staff") == {"resend", "cancel"}
    # final: nothing moves it, not even cancel; « Mot de passe perdu » stays in it
    assert _triggers("active") == {"request_reset"}
    assert _triggers("active", "staff") == set()
    assert _triggers("cancelled") == set()


def test_reminders_at_three_and_six_days_then_expiry():
    timers = {t.name: t for t in DEFINITION.timers_for("invited")}
    assert timers["reminder_1"].after == timedelta(days=3)
    assert timers["reminder_2"].after == timedelta(days=6)
    assert timers["expiry"].after == "validity" and timers["expiry"].trigger == "expire"
    # the reminder does not leave the state, so it keeps the other timers running
    [remind] = DEFINITION.candidates("remind", "invited")
    assert remind.dest is None and remind.steps == ("send_reminder",)


def test_a_lost_password_is_asked_on_the_case_without_leaving_its_state():
    for state in ("password_set", "active"):
        [reset] = DEFINITION.candidates("request_reset", state)
        assert reset.dest is None and reset.steps == ("send_password_reset",)
        assert reset.by == {"mandataire", "system"} and not reset.bulk
    assert DEFINITION.step_by_name["send_password_reset"].on_done is None
    assert "request_reset" not in _triggers("invited")


def test_stuck_states_name_their_action():
    expired = DEFINITION.state_by_name["expired"].stuck
    bounced = DEFINITION.state_by_name["bounced"].stuck
    assert (expired.reason, expired.action, expired.action_label) == (
        "invitation_expired",
        "resend",
        "Renvoyer l'invitation",
    )
    assert (bounced.reason, bounced.action_label) == (
        "invitation_bounced",
        "Corriger l'email puis renvoyer",
    )
    assert DEFINITION.step_failed.action_label == "Relancer l'étape"


def test_a_definition_with_a_typo_does_not_build():
    states = [State("a", "A"), State("b", "B", final=True)]
    with pytest.raises(ValueError, match="unknown states"):
        Definition("x", 1, "X", "a", states, [T("go", "a", "c", "Aller")])
    with pytest.raises(ValueError, match="unknown guards"):
        Definition("x", 1, "X", "a", states, [T("go", "a", "b", "Aller", guards=("ok",))])
    with pytest.raises(ValueError, match="unknown step"):
        Definition("x", 1, "X", "a", states, [T("go", "a", "b", "Aller", steps=("s",))])
    with pytest.raises(ValueError, match="fires a trigger or sticks"):
        Definition("x", 1, "X", "a", states, [], timers=[TimerRule("t", "a", timedelta(1))])


def test_one_machine_shared_by_every_case():
    assert DEFINITION.machine.models == []
