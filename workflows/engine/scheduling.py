"""What the scheduler does on each tick: fire due timers, recover lost steps and bulk jobs.

The database is the source of truth and the broker only delivers, so every tick
looks for work the broker may have lost. Rows are taken with ``SKIP LOCKED`` on
PostgreSQL: several schedulers never handle the same timer or step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import aliased

from workflows.engine import bulk
from workflows.engine.cross_process import school_year_of
from workflows.engine.definition import Definition
from workflows.engine.engine import Actor, Engine
from workflows.engine.errors import CoopflowError
from workflows.engine.steps import fail_for_good
from workflows.formatting import date_fr
from workflows.models import Case, Coop, Step, StepStatus, Task, TaskStatus, Timer

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class TickReport:
    timers_fired: int = 0
    steps_republished: int = 0
    tasks_overdue: int = 0
    cases_started: int = 0
    bulk_jobs_republished: int = 0


def tick(engine: Engine) -> TickReport:
    """One pass of the scheduler; safe to run from several processes at once."""
    report = TickReport()
    while (n := fire_due_timers(engine)) > 0:
        report.timers_fired += n
        if n < BATCH:
            break
    while (n := recover_steps(engine)) > 0:
        report.steps_republished += n
        if n < BATCH:
            break
    report.cases_started = start_waiting(engine)
    while (n := flag_overdue_tasks(engine)) > 0:
        report.tasks_overdue += n
        if n < BATCH:
            break
    while (n := bulk.recover(engine, BATCH)) > 0:
        report.bulk_jobs_republished += n
        if n < BATCH:
            break
    return report


def start_waiting(engine: Engine, limit: int = BATCH) -> int:
    """Start the cases whose prerequisites are met but which have not started: met
    before the process existed, or at once by two transactions that each saw the other's
    part unmet. The transition that meets the last prerequisite starts the case itself;
    this sweep only catches up."""
    started = 0
    year = school_year_of(engine.clock.now())
    for definition in engine.definitions.values():
        if not definition.prerequisites:
            continue
        coop_ids = _maybe_ready(engine, definition, year, limit)
        for coop_id in coop_ids:
            with engine.transaction() as tx:
                if tx.start_if_ready(coop_id, definition) is not None:
                    started += 1
    return started


def _maybe_ready(engine: Engine, definition: Definition, year: int, limit: int) -> list[int]:
    """Coops that may be ready for ``definition``: a case of each prerequisite's process
    in one of its states, and none of ``definition`` past its waiting state (the exact
    rule, on the newest cases, is checked again in the starting transaction)."""
    query = select(Coop.id)
    for prerequisite in definition.prerequisites:
        needed = aliased(Case)
        condition = [
            needed.coop_id == Coop.id,
            needed.process == prerequisite.process,
            needed.state.in_(prerequisite.states),
        ]
        if prerequisite.this_year:
            condition.append(needed.school_year == year)
        query = query.where(exists().where(*condition))
    started = aliased(Case)
    condition = [started.coop_id == Coop.id, started.process == definition.name]
    if definition.yearly:
        condition.append(started.school_year == year)
    if definition.start_trigger is not None:
        condition.append(started.state != definition.initial)
    query = query.where(~exists().where(*condition)).order_by(Coop.id).limit(limit)
    with engine.db.read() as session:
        return list(session.scalars(query))


def flag_overdue_tasks(engine: Engine, limit: int = BATCH) -> int:
    """Staff tasks past their due date make their case stuck (once per task)."""
    with engine.transaction() as tx:
        tasks = tx.session.scalars(
            select(Task)
            .where(
                Task.status == TaskStatus.OPEN.value,
                Task.overdue_at.is_(None),
                Task.due_at <= tx.now,
            )
            .order_by(Task.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for task in tasks:
            case = tx.lock(task.case_id)
            task.overdue_at = tx.now
            if case.stuck_reason is None:
                rule = engine.definition(case.process).task_overdue
                tx.mark_stuck(case, rule, task=task.title, due=date_fr(task.due_at))
        return len(tasks)


def fire_due_timers(engine: Engine, limit: int = BATCH) -> int:
    """Fire the triggers (or stuck marks) of timers that are due. Returns how many."""
    with engine.transaction() as tx:
        timers = tx.session.scalars(
            select(Timer)
            .where(Timer.closed_at.is_(None), Timer.due_at <= tx.now)
            .order_by(Timer.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for timer in timers:
            if timer.closed_at is not None:
                continue  # closed by an earlier timer of the same case in this batch
            timer.closed_at = tx.now
            case = tx.lock(timer.case_id)
            if case.state != timer.state:
                continue
            rule = next(
                (t for t in engine.definition(case.process).timers if t.name == timer.name), None
            )
            if rule is None:
                continue
            if rule.stuck is not None:
                if case.stuck_reason is None:
                    tx.mark_stuck(case, rule.stuck)
                continue
            assert rule.trigger is not None
            try:
                with tx.session.begin_nested():
                    tx.fire(case.id, rule.trigger, actor=Actor.system(f"minuteur {timer.name}"))
            except CoopflowError as exc:
                log.warning(
                    "timer trigger refused",
                    extra={"case_id": case.id, "timer": timer.name, "reason": str(exc)},
                )
            if case.state != timer.state:
                # Leaving the state closed the case's other open timers in the database;
                # keep the objects of this batch in step with it.
                for other in timers:
                    if other.case_id == case.id and other.closed_at is None:
                        other.closed_at = tx.now
        tx.session.flush()
        return len(timers)


def recover_steps(engine: Engine, limit: int = BATCH) -> int:
    """Publish the steps whose lease ran out: lost message, killed worker, flushed or
    restarted broker, a publish that failed after commit, or never published (written
    by a process without a broker consumer: a CLI command beside ``coopflow serve``).

    One indexed read (``ix_steps_status_lease``) first: when nothing is due, as on most
    ticks, no write transaction is opened (on SQLite it would take the write lock). An
    engine that does not publish leaves the pending steps to one that does, and only
    takes back those of dead runs."""
    statuses = [StepStatus.RUNNING.value]
    if engine.publishes:
        statuses.append(StepStatus.PENDING.value)
    with engine.db.read() as session:
        first = session.scalar(select(Step.id).where(_due(statuses, engine.clock.now())).limit(1))
    if first is None:
        return 0
    with engine.transaction() as tx:
        steps = tx.session.scalars(
            select(Step)
            .where(_due(statuses, tx.now))
            .order_by(Step.lease_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        ids, exhausted = [], []
        for step in steps:
            if step.status == StepStatus.RUNNING.value and step.attempts >= step.max_attempts:
                exhausted.append(step.id)  # its worker died on the last attempt
                step.lease_until = tx.now + engine.timing.publish_lease
                continue
            # A running step past its lease lost its worker: it is pending again, and
            # the attempt it used counts, so a step that kills its worker every time ends.
            step.status = StepStatus.PENDING.value
            step.lease_until = tx.now + engine.timing.publish_lease
            step.updated_at = tx.now
            ids.append(step.id)
        # Published after commit by the unit of work, like any new step.
        tx.new_steps.extend(ids)
    for step_id in exhausted:
        _fail_abandoned(engine, step_id)
    if ids:
        log.info("steps republished", extra={"count": len(ids)})
    return len(ids) + len(exhausted)


def _due(statuses: list[str], now: datetime) -> ColumnElement[bool]:
    """The steps of ``statuses`` whose lease ran out (or that never had one): written as
    two ranges of ``ix_steps_status_lease``, so only the due rows are read, never the
    whole queue (SQLite's plan is a « MULTI-INDEX OR » of two searches)."""
    return or_(
        and_(Step.status.in_(statuses), Step.lease_until.is_(None)),
        and_(Step.status.in_(statuses), Step.lease_until < now),
    )


def _fail_abandoned(engine: Engine, step_id: int) -> None:
    """A step whose every attempt ended with its worker dying fails: the case is stuck."""
    with engine.transaction() as tx:
        found = tx.session.get(Step, step_id)
        if found is None:
            return
        case = tx.lock(found.case_id)  # the case first, as everywhere
        step = tx.session.get(Step, step_id, with_for_update=True, populate_existing=True)
        if step is None or step.status != StepStatus.RUNNING.value:
            return
        error = f"le processus s'est arrêté pendant l'étape ({step.attempts} tentatives)"
        fail_for_good(tx, case, step, error)
