"""Staff tasks: opened on entering a state, closed on leaving it, overdue → stuck."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.definitions import make_definition
from tests.factories import CoopFactory
from workflows.engine.definition import Definition, State, TaskRule
from workflows.engine.definition import Transition as T
from workflows.engine.engine import Actor, Engine
from workflows.engine.scheduling import tick
from workflows.models import Case, CaseEvent, Task, TaskStatus

STAFF = Actor("staff", 1, "Claire Agent")
SYSTEM = Actor.system("test")


def _validation() -> Definition:
    """A process whose middle state waits on staff for at most 5 days."""
    validate = TaskRule("validate", "Valider l'affiliation", timedelta(days=5))
    return make_definition(
        "validation",
        "Validation",
        [
            ("draft", "Brouillon"),
            State("awaiting_validation", "À valider", task=validate),
            ("validated", "Validée"),
        ],
        [
            T("submit", "draft", "awaiting_validation", "Soumettre"),
            T("validate", "awaiting_validation", "validated", "Valider", by=frozenset({"staff"})),
        ],
    )


@pytest.fixture
def engine_v(db, clock) -> Engine:
    return Engine(db, {"validation": _validation()}, clock=clock)


def _submitted(engine: Engine, ad) -> int:
    coop = CoopFactory(ad=ad)
    with engine.transaction() as tx:
        case = tx.start("validation", coop.id, actor=SYSTEM, trigger="submit")
        return case.id


def _tasks(engine: Engine, case_id: int) -> list[Task]:
    with engine.db.read() as s:
        return list(s.scalars(select(Task).where(Task.case_id == case_id).order_by(Task.id)))


def test_entering_a_state_opens_its_task_and_leaving_closes_it(engine_v, clock, ad):
    case_id = _submitted(engine_v, ad)
    [task] = _tasks(engine_v, case_id)
    assert (task.title, task.status, task.state) == (
        "Valider l'affiliation",
        TaskStatus.OPEN.value,
        "awaiting_validation",
    )
    assert abs(task.due_at - (clock.now() + timedelta(days=5))) < timedelta(seconds=5)
    with engine_v.db.read() as s:
        assert s.get(Case, case_id).ad_id == ad.id == task.ad_id

    with engine_v.transaction() as tx:
        tx.fire(case_id, "validate", actor=STAFF, comment="paiement reçu")
    [task] = _tasks(engine_v, case_id)
    assert task.status == TaskStatus.DONE.value and task.closed_by.startswith("staff:1 ")


def test_a_task_past_its_due_date_makes_the_case_stuck_once(engine_v, clock, ad):
    case_id = _submitted(engine_v, ad)
    clock.advance(timedelta(days=4))
    assert tick(engine_v).tasks_overdue == 0
    clock.advance(timedelta(days=1, seconds=1))
    assert tick(engine_v).tasks_overdue == 1
    assert tick(engine_v).tasks_overdue == 0  # flagged once
    with engine_v.db.read() as s:
        case = s.get(Case, case_id)
        assert case.stuck_reason == "task_overdue"
        assert case.stuck_message == (
            "La tâche « Valider l'affiliation » n'est pas faite : échéance du 12/09/2026 dépassée."
        )

    # Doing the task by hand unsticks the case (nothing else kept it stuck).
    [task] = _tasks(engine_v, case_id)
    with engine_v.transaction() as tx:
        case = tx.lock(case_id)
        tx.close_task(case, tx.session.get(Task, task.id), STAFF, "Validée par téléphone.")
    with engine_v.db.read() as s:
        case = s.get(Case, case_id)
        assert case.stuck_reason is None
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)).all()
        assert events[-1].comment == "Tâche faite : Valider l'affiliation. Validée par téléphone."


def test_leaving_the_state_after_the_sla_unsticks_and_closes(engine_v, clock, ad):
    case_id = _submitted(engine_v, ad)
    clock.advance(timedelta(days=6))
    tick(engine_v)
    with engine_v.transaction() as tx:
        case = tx.fire(case_id, "validate", actor=STAFF)
        assert case.stuck_reason is None
    assert [t.status for t in _tasks(engine_v, case_id)] == [TaskStatus.DONE.value]
