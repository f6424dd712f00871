"""The engine on a real database: one transaction per trigger, audit, outbox, timers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.definitions import make_definition
from tests.factories import CoopFactory, MandataireFactory
from tests.helpers import invitation_case
from workflows.engine.definition import Definition, StuckRule, TimerRule
from workflows.engine.definition import Transition as T
from workflows.engine.engine import Actor, Engine
from workflows.engine.errors import GuardFailed, TransitionNotAllowed, VersionConflict
from workflows.engine.scheduling import tick
from workflows.models import Case, CaseEvent, Step, Timer

STAFF = Actor("staff", 1, "Claire Agent")


@pytest.fixture
def case_id(engine, ad):
    mandataire = MandataireFactory(coop__ad=ad)
    with engine.transaction() as tx:
        case = invitation_case(tx, mandataire, actor=STAFF, trigger=None)
    return case.id


def test_fire_changes_state_audits_and_queues_the_step_after_commit(engine, publisher, case_id):
    with engine.transaction() as tx:
        tx.fire(case_id, "invite", actor=STAFF, comment="rentrée")
        assert publisher.ids == []  # nothing published before the commit
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert (case.state, case.version) == ("sending", 2)
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)).all()
        assert [(e.kind, e.trigger, e.from_state, e.to_state) for e in events] == [
            ("created", None, None, "created"),
            ("transition", "invite", "created", "sending"),
        ]
        assert events[-1].actor == "staff:1 Claire Agent" and events[-1].comment == "rentrée"
        steps = s.scalars(select(Step).where(Step.case_id == case_id)).all()
    assert [(st.name, st.status) for st in steps] == [("send_invitation", "pending")]
    assert publisher.ids == [steps[0].id]


def test_a_refused_trigger_changes_nothing(engine, publisher, case_id):
    with pytest.raises(TransitionNotAllowed, match="impossible"), engine.transaction() as tx:
        tx.fire(case_id, "set_password", actor=Actor("mandataire", 1))
    with engine.db.read() as s:
        assert s.get(Case, case_id).version == 1
    assert publisher.ids == []


def test_actor_kind_is_checked(engine, case_id):
    with pytest.raises(TransitionNotAllowed, match="non autorisée"), engine.transaction() as tx:
        tx.fire(case_id, "invite", actor=Actor("mandataire", 1))


def test_expected_version_detects_a_concurrent_change(engine, case_id):
    with (
        pytest.raises(VersionConflict, match="modifié par quelqu'un d'autre"),
        engine.transaction() as tx,
    ):
        tx.fire(case_id, "invite", actor=STAFF, expected_version=7)


def test_timers_fire_when_the_clock_moves(engine, clock, case_id):
    with engine.transaction() as tx:
        tx.fire(case_id, "invite", actor=STAFF)
    with engine.transaction() as tx:
        tx.fire(case_id, "sent", actor=Actor.system("test"))
    with engine.db.read() as s:
        due = sorted(t.name for t in s.scalars(select(Timer).where(Timer.case_id == case_id)))
    assert due == ["expiry", "reminder_1", "reminder_2"]

    assert tick(engine).timers_fired == 0
    clock.advance(timedelta(days=3, minutes=1))
    assert tick(engine).timers_fired == 1
    with engine.db.read() as s:
        names = [st.name for st in s.scalars(select(Step).where(Step.case_id == case_id))]
        assert names.count("send_reminder") == 1
        assert s.get(Case, case_id).state == "invited"

    clock.advance(timedelta(days=4))  # past +6 (reminder) and +7 (expiry) at once
    assert tick(engine).timers_fired == 2
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case.state == "expired"
        assert case.stuck_reason == "invitation_expired"
        assert case.stuck_action == "resend"
        assert "à temps" in case.stuck_message


def test_leaving_a_state_closes_its_timers_and_unstucks(engine, clock, case_id):
    with engine.transaction() as tx:
        tx.fire(case_id, "invite", actor=STAFF)
        tx.fire(case_id, "sent", actor=Actor.system("test"))
    clock.advance(timedelta(days=8))
    tick(engine)
    with engine.transaction() as tx:
        case = tx.fire(case_id, "resend", actor=STAFF, comment="nouvel envoi")
        assert case.stuck_reason is None and case.state == "sending"
    clock.advance(timedelta(days=30))
    assert tick(engine).timers_fired == 0


SLA = StuckRule("review_late", "Revue en attente depuis plus de 2 jours.", "approve", "Valider")


def _review_definition() -> Definition:
    """A small process with a guard and an SLA, to test the engine's generic parts."""
    return make_definition(
        "review",
        "Revue",
        [("waiting", "En attente"), ("done", "Fait")],
        [
            T(
                "approve",
                "waiting",
                "done",
                "Valider",
                by=frozenset({"staff"}),
                guards=("has_amount",),
            ),
        ],
        timers=[TimerRule("sla", "waiting", timedelta(days=2), stuck=SLA)],
        guards={
            "has_amount": lambda ctx: (
                None if ctx.payload.get("amount") else "Indiquez le montant reçu."
            )
        },
    )


def test_guards_refuse_with_their_french_reason_and_sla_makes_stuck(db, clock, ad):
    engine = Engine(db, {"review": _review_definition()}, clock=clock)
    coop = CoopFactory(ad=ad)
    with engine.transaction() as tx:
        case = tx.start("review", coop.id, actor=STAFF)
    refused = pytest.raises(GuardFailed, match=r"Indiquez le montant reçu\.")
    with refused, engine.transaction() as tx:
        tx.fire(case.id, "approve", actor=STAFF)

    clock.advance(timedelta(days=2, seconds=1))
    assert tick(engine).timers_fired == 1
    with engine.db.read() as s:
        stuck = s.get(Case, case.id)
    assert (stuck.state, stuck.stuck_reason, stuck.stuck_action) == (
        "waiting",
        "review_late",
        "approve",
    )

    with engine.transaction() as tx:
        tx.fire(case.id, "approve", actor=STAFF, payload={"amount": 13699})
    with engine.db.read() as s:
        done = s.get(Case, case.id)
    assert done.state == "done" and done.stuck_reason is None


def test_a_state_left_in_the_transaction_that_entered_it_drops_its_steps(
    engine, publisher, case_id
):
    """An older step of the case, still pending, is cancelled when the transaction that
    leaves its state settles, and never published again; the new state's own step
    (``cancelled`` ends the mandataire's access) is."""
    with engine.transaction() as tx:
        tx.fire(case_id, "invite", actor=STAFF)
    [older] = publisher.ids
    publisher.published.clear()
    with engine.transaction() as tx:
        tx.fire(case_id, "cancel", actor=STAFF, comment="doublon")
    with engine.db.read() as s:
        steps = s.scalars(select(Step).where(Step.case_id == case_id).order_by(Step.id)).all()
        assert [(st.id, st.name, st.status) for st in steps] == [
            (older, "send_invitation", "cancelled"),
            (steps[1].id, "end_access", "pending"),
        ]
        assert s.get(Case, case_id).state == "cancelled"
    assert publisher.ids == [steps[1].id]


def test_steps_queued_then_dropped_in_one_transaction_are_never_published(
    engine, publisher, case_id
):
    with engine.transaction() as tx:
        tx.fire(case_id, "invite", actor=STAFF)
        tx.fire(case_id, "cancel", actor=STAFF)
    with engine.db.read() as s:
        steps = s.scalars(select(Step).where(Step.case_id == case_id).order_by(Step.id)).all()
    assert [(st.name, st.status) for st in steps] == [
        ("send_invitation", "cancelled"),
        ("end_access", "pending"),
    ]
    assert steps[0].finished_at is not None
    assert publisher.ids == [steps[1].id]  # only the step of the state the case is in
