"""``kyc`` alone (no worker runs its steps): it starts with the account, follows what Swan
reports, becomes stuck for the reasons PROCESSES.md gives, each with its sentence and
its action, and is relaunched by its timers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.helpers import active_account, case_of
from workflows.engine.definition import MANDATAIRE, STAFF
from workflows.engine.engine import Actor
from workflows.engine.errors import TransitionNotAllowed
from workflows.engine.scheduling import tick
from workflows.models import Case, Step, Timer
from workflows.processes.kyc import reasons
from workflows.processes.kyc.definition import DEFINITION, PROGRESS

SWAN = Actor.system("Swan")
CLAIRE = Actor("staff", 1, "Claire Agent")


def _fire(engine, case_id: int, trigger: str, actor: Actor = SWAN, **payload) -> Case:  # type: ignore[no-untyped-def]
    with engine.transaction() as tx:
        tx.fire(case_id, trigger, actor=actor, payload=payload)
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def _steps(engine, case_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.db.read() as s:
        return list(s.scalars(select(Step.name).where(Step.case_id == case_id).order_by(Step.id)))


def _kyc(engine, ad) -> Case:  # type: ignore[no-untyped-def]
    return case_of(engine, active_account(engine, ad).coop_id, "kyc")


def test_the_definition_reads_as_processes_md_says() -> None:
    assert DEFINITION.initial == "waiting" and DEFINITION.start_trigger == "start"
    [prerequisite] = DEFINITION.prerequisites
    assert (prerequisite.process, prerequisite.states) == ("invitation", ("active",))
    assert [t.trigger for t in DEFINITION.triggers_from("invalid", MANDATAIRE)] == ["retry"]
    assert "validate" in [t.trigger for t in DEFINITION.triggers_from("pending_review", STAFF)]
    assert "validate" not in [
        t.trigger for t in DEFINITION.triggers_from("pending_review", MANDATAIRE)
    ]
    finals = {s.name for s in DEFINITION.states if s.final}
    assert finals == {"verified"}
    # Every open state ranks below the outcomes: a re-queried status only moves forward.
    assert max(PROGRESS[s] for s in ("link_sent", "in_progress", "pending_review")) < min(
        PROGRESS[s] for s in ("verified", "invalid", "expired")
    )


def test_it_starts_with_the_account_sends_the_instructions_and_polls_swan(engine, ad):
    case = _kyc(engine, ad)
    assert case.state == "link_sent" and case.stuck_reason is None
    assert _steps(engine, case.id) == ["request_identification"]
    with engine.db.read() as s:
        timers = s.scalars(
            select(Timer.name).where(Timer.case_id == case.id, Timer.closed_at.is_(None))
        ).all()
    assert sorted(timers) == ["poll_1", "poll_2", "poll_3", "poll_4", "reminder", "stalled"]


def test_swan_statuses_carry_it_to_verified(engine, ad):
    case = _kyc(engine, ad)
    assert _fire(engine, case.id, "started").state == "in_progress"
    assert _fire(engine, case.id, "submitted").state == "pending_review"
    verified = _fire(engine, case.id, "validate")
    assert verified.state == "verified" and verified.stuck_reason is None
    assert _steps(engine, case.id)[-1] == "notify_verified"
    with pytest.raises(TransitionNotAllowed), engine.transaction() as tx:
        tx.fire(case.id, "started", actor=SWAN)  # a late webhook cannot reopen it


def test_a_first_refusal_waits_for_the_mandataire_a_second_is_stuck_with_its_reason(engine, ad):
    case = _kyc(engine, ad)
    reason = reasons.reason_text("ExpiredDocument").what
    first = _fire(engine, case.id, "refuse", refusals=1, reason=reason)
    assert first.state == "invalid" and first.stuck_reason is None
    assert _steps(engine, case.id)[-1] == "notify_refused"

    me = Actor("mandataire", 1, "Éloïse Martin")
    assert _fire(engine, case.id, "retry", actor=me).state == "link_sent"
    assert _steps(engine, case.id)[-1] == "request_identification"
    second = _fire(engine, case.id, "refuse", refusals=2, reason=reason)
    assert second.stuck_reason == "kyc_refused_twice"
    assert second.stuck_action == "call_mandataire"
    assert second.stuck_message == (
        "La vérification d'identité a été refusée 2 fois "
        "(dernier motif : La pièce d'identité présentée est expirée.)."
    )
    called = _fire(engine, case.id, "call_mandataire", actor=CLAIRE)
    assert called.state == "invalid" and called.stuck_reason is None


def test_a_membership_that_does_not_match_is_stuck_for_staff(engine, ad):
    case = _kyc(engine, ad)
    fields = ["lastNameMatchError", "birthDateMatchError"]
    stuck = _fire(
        engine,
        case.id,
        "binding_mismatch",
        mismatch=reasons.mismatch_sentence(fields),
        fields=fields,
    )
    assert (stuck.state, stuck.stuck_reason, stuck.stuck_action) == (
        "pending_review",
        "kyc_binding_mismatch",
        "verify_identity",
    )
    assert stuck.stuck_message == (
        "L'identité vérifiée par Swan ne correspond pas à la fiche du mandataire : "
        "le nom et la date de naissance."
    )
    # Plain « submitted » (Swan reviewing) into the same state is not stuck.
    other = _kyc(engine, ad)
    assert _fire(engine, other.id, "submitted").stuck_reason is None
    # Staff record what they checked by hand: verified, unstuck.
    done = _fire(engine, case.id, "validate", actor=CLAIRE)
    assert done.state == "verified" and done.stuck_reason is None


def test_reminder_after_three_days_stuck_after_fourteen_relaunch_starts_again(engine, clock, ad):
    case = _kyc(engine, ad)
    clock.advance(timedelta(days=3, minutes=1))
    tick(engine)
    assert _steps(engine, case.id).count("send_reminder") == 1
    clock.advance(timedelta(days=11))
    tick(engine)
    with engine.db.read() as s:
        stalled = s.get(Case, case.id)
    assert stalled is not None and stalled.stuck_reason == "kyc_stalled"
    assert stalled.stuck_action == "relaunch"

    relaunched = _fire(engine, case.id, "relaunch", actor=CLAIRE)
    assert relaunched.state == "link_sent" and relaunched.stuck_reason is None
    assert _steps(engine, case.id).count("request_identification") == 2
    clock.advance(timedelta(days=13))
    tick(engine)
    with engine.db.read() as s:
        assert s.get(Case, case.id).stuck_reason is None  # the 14 days count again


def test_an_attempt_left_unfinished_expires_and_can_be_retried(engine, clock, ad):
    case = _kyc(engine, ad)
    _fire(engine, case.id, "started")
    assert _fire(engine, case.id, "expire").state == "expired"
    clock.advance(timedelta(days=3, minutes=1))
    tick(engine)
    assert _steps(engine, case.id)[-1] == "send_reminder"
    with pytest.raises(TransitionNotAllowed), engine.transaction() as tx:
        tx.fire(case.id, "validate", actor=SWAN)
    staff_retry = _fire(engine, case.id, "retry", actor=CLAIRE)
    assert staff_retry.state == "link_sent"


def test_polling_asks_swan_while_open_and_stops_after(engine, clock, ad):
    case = _kyc(engine, ad)
    clock.advance(timedelta(minutes=16))
    tick(engine)
    assert _steps(engine, case.id).count("sync_identification") == 1
    _fire(engine, case.id, "validate")
    clock.advance(timedelta(days=5))
    tick(engine)
    assert _steps(engine, case.id).count("sync_identification") == 1


def test_every_swan_reason_reads_in_french_with_what_to_do() -> None:
    for code, explained in reasons.REASONS.items():
        assert explained.what.endswith(".") and explained.todo.endswith("."), code
    assert reasons.reason_text("UnAutreMotif") == reasons.UNKNOWN
    assert reasons.reason_text(None) == reasons.UNKNOWN
    assert reasons.mismatch_sentence(["firstNameMatchError"]) == "le prénom"
    assert reasons.mismatch_sentence(["idVerifiedMatchError", "firstNameMatchError"]) == (
        "le prénom et l'identité (non vérifiée)"
    )
    assert reasons.mismatch_labels(["nouveauChamp"]) == ["une autre information"]
