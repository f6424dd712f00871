"""``space_check`` alone: it starts when the account is active, its mandataire actions,
the task a reported problem opens for staff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from tests.factories import MandataireFactory
from tests.helpers import invitation_case
from workflows.engine.definition import MANDATAIRE, STAFF
from workflows.engine.engine import Actor
from workflows.engine.errors import GuardFailed, TransitionNotAllowed
from workflows.engine.scheduling import tick
from workflows.models import Case, Step, Task
from workflows.processes.space_check.definition import DEFINITION

SYSTEM = Actor.system("test")


def test_the_definition_reads_as_the_guide_says() -> None:
    assert DEFINITION.initial == "to_check"
    assert [t.trigger for t in DEFINITION.triggers_from("to_check", MANDATAIRE)] == [
        "confirm",
        "report_problem",
    ]
    assert [t.trigger for t in DEFINITION.triggers_from("problem_reported", STAFF)] == [
        "ask_again",
        "cancel",
    ]
    assert DEFINITION.state_by_name["to_check"].mandataire_action == "Vérifier mon espace"
    [prerequisite] = DEFINITION.prerequisites
    assert (prerequisite.process, prerequisite.states) == ("invitation", ("active",))


def _active_account(engine, ad) -> tuple[int, object]:
    """An invitation brought to ``active``: returns the coop id and the mandataire."""
    mandataire = MandataireFactory(coop__ad=ad)
    with engine.transaction() as tx:
        invitation_case(tx, mandataire, "sent", "set_password", "first_login", actor=SYSTEM)
    return mandataire.coop_id, mandataire


def _space_case(engine, coop_id: int) -> Case | None:
    with engine.db.read() as s:
        return s.scalars(
            select(Case).where(Case.coop_id == coop_id, Case.process == "space_check")
        ).one_or_none()


def test_it_starts_when_the_account_becomes_active_and_notifies(engine, ad):
    coop_id, _ = _active_account(engine, ad)
    case = _space_case(engine, coop_id)
    assert case is not None and case.state == "to_check" and case.ad_id == ad.id
    with engine.db.read() as s:
        names = s.scalars(select(Step.name).where(Step.case_id == case.id)).all()
    assert names == ["notify_mandataire"]


def test_the_scheduler_starts_it_for_accounts_active_before_it_existed(engine, ad):
    coop_id, _ = _active_account(engine, ad)
    with engine.transaction() as tx:  # as if the process had not existed then
        case_id = _space_case(engine, coop_id).id
        for table in ("case_events", "steps", "timers"):
            tx.session.execute(
                delete(Case.metadata.tables[table]).where(
                    Case.metadata.tables[table].c.case_id == case_id
                )
            )
        tx.session.execute(delete(Case).where(Case.id == case_id))
    assert _space_case(engine, coop_id) is None
    assert tick(engine).cases_started == 1
    assert _space_case(engine, coop_id).state == "to_check"
    assert tick(engine).cases_started == 0  # once per coop


def test_a_reported_problem_opens_a_task_with_the_message(engine, ad):
    coop_id, mandataire = _active_account(engine, ad)
    case = _space_case(engine, coop_id)
    me = Actor.mandataire(mandataire)
    with pytest.raises(GuardFailed, match="votre message est vide"), engine.transaction() as tx:
        tx.fire(case.id, "report_problem", actor=me, payload={"message": "   "})
    with pytest.raises(GuardFailed, match="trop long"), engine.transaction() as tx:
        tx.fire(case.id, "report_problem", actor=me, payload={"message": "x" * 2001})
    with pytest.raises(TransitionNotAllowed), engine.transaction() as tx:
        tx.fire(case.id, "ask_again", actor=me)

    with engine.transaction() as tx:
        tx.fire(
            case.id,
            "report_problem",
            actor=me,
            payload={"message": "Le trésorier affiché a quitté l'école."},
        )
    with engine.db.read() as s:
        task = s.scalars(select(Task).where(Task.case_id == case.id)).one()
    assert task.title == "Traiter le problème signalé sur l'espace"
    assert task.note == "Le trésorier affiché a quitté l'école."

    with engine.transaction() as tx:
        tx.fire(case.id, "ask_again", actor=Actor("staff", 1, "Claire Agent"), comment="corrigé")
    with engine.db.read() as s:
        assert s.get(Task, task.id).status == "done"
        assert s.get(Case, case.id).state == "to_check"


def test_the_weekly_reminder_runs_while_it_waits(engine, clock, ad):
    coop_id, _ = _active_account(engine, ad)
    case = _space_case(engine, coop_id)
    clock.advance(timedelta(days=7, minutes=1))
    tick(engine)
    with engine.db.read() as s:
        names = s.scalars(select(Step.name).where(Step.case_id == case.id).order_by(Step.id)).all()
    assert names == ["notify_mandataire", "notify_mandataire"]
