"""The life of a step row: claimed by one worker, then done, retried later, or failed.

Delivery is at least once: a message may arrive twice, late, or after the case moved
on. :func:`claim` lets exactly one delivery run the step; the others skip it.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, tuple_, update

from workflows.engine.engine import Actor, Engine, UnitOfWork
from workflows.engine.errors import ConflictError, TransitionNotAllowed
from workflows.engine.timing import BACKOFF_BASE, BACKOFF_MAX
from workflows.models import Case, Step, StepStatus, table

log = logging.getLogger(__name__)

#: The Core tables of the hot path: a claim and a completion build no ORM object per step.
_STEPS = table(Step)
_CASES = table(Case)

# The leases (RUN_LEASE: how long a running step owns its row before another delivery
# may take it over; PUBLISH_LEASE) and the backoff are the engine's ``timing``: production
# defaults in workflows.engine.engine, shortened by the COOPFLOW_STEP_* settings if asked.


@dataclass(frozen=True)
class Outcome:
    """What a step handler reports: the trigger to fire (or none) and its payload."""

    trigger: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimedStep:
    id: int
    case_id: int
    name: str
    process: str
    args: dict[str, Any]
    attempt: int
    idempotency_key: str
    coop_id: int


def backoff(
    attempt: int, base: timedelta = BACKOFF_BASE, maximum: timedelta = BACKOFF_MAX
) -> timedelta:
    """Delay before attempt ``attempt + 1``, with jitter so retries do not march in step."""
    delay = min(base * (2 ** (attempt - 1)), maximum)
    return delay * random.uniform(0.8, 1.2)


def claim(engine: Engine, step_id: int) -> ClaimedStep | None:
    """Take the step for this delivery, or ``None`` when it is done, cancelled, not yet
    due, or owned by a live run elsewhere."""
    claimed = claim_many(engine, [step_id])
    return claimed[0] if claimed else None


def claim_many(engine: Engine, step_ids: list[int]) -> list[ClaimedStep]:
    """Take the steps of one delivery that are still to run, in the order given.

    One statement takes them and reads what the runs need (``UPDATE … RETURNING``, the
    case's columns by subqueries, which SQLite allows there and a join it does not),
    built once (:data:`_CLAIM`) and run on a Core connection, no ORM session: a claim is
    on every message's path, and most messages of a wave find their steps already
    taken along by another run (:func:`workers.runner._gathered`). Building the
    statement and a session each time cost 1.4 ms of a worker's CPU per message."""
    if not step_ids:
        return []
    now = engine.clock.now()
    with engine.db.write_connection() as connection:
        rows = connection.execute(
            _CLAIM,
            {"ids": list(step_ids), "now": now, "lease": now + engine.timing.run_lease},
        ).all()
        claimed: dict[int, ClaimedStep] = {}
        dropped = []
        for row in rows:
            if row.state != row.args.get("state"):
                # Dropped on leaving the state; a late message finds it here.
                dropped.append({"step_id": row.id})
                continue
            claimed[row.id] = ClaimedStep(
                row.id,
                row.case_id,
                row.name,
                row.process,
                dict(row.args),
                row.attempts,
                row.idempotency_key,
                row.coop_id,
            )
        if dropped:
            connection.execute(_DROP, [{**d, "now": now} for d in dropped])
        return [claimed[i] for i in dict.fromkeys(step_ids) if i in claimed]


def release(engine: Engine, claimed: list[ClaimedStep]) -> list[int]:
    """Hand back steps claimed together and not run: pending again, the attempt unused.
    Returns the ids to publish again."""
    released = []
    with engine.transaction() as tx:
        for step in _owned_many(tx, claimed).values():
            step.status = StepStatus.PENDING.value
            step.attempts -= 1
            step.not_before = tx.now
            step.lease_until = tx.now + engine.timing.publish_lease
            step.updated_at = tx.now
            released.append(step.id)
    return released


def _of_case(column: str) -> Any:
    """A column of the step's case, as a subquery a ``RETURNING`` clause can hold."""
    cases = _CASES.c
    return select(cases[column]).where(cases.id == _STEPS.c.case_id).scalar_subquery().label(column)


_CLAIM = (
    update(_STEPS)
    .where(
        _STEPS.c.id.in_(bindparam("ids", expanding=True)),
        _STEPS.c.not_before <= bindparam("now"),
        or_(
            _STEPS.c.status == StepStatus.PENDING.value,
            (_STEPS.c.status == StepStatus.RUNNING.value)
            & (_STEPS.c.lease_until < bindparam("now")),
        ),
    )
    .values(
        status=StepStatus.RUNNING.value,
        attempts=_STEPS.c.attempts + 1,
        lease_until=bindparam("lease"),
        updated_at=bindparam("now"),
    )
    .returning(
        _STEPS.c.id,
        _STEPS.c.case_id,
        _STEPS.c.name,
        _STEPS.c.args,
        _STEPS.c.attempts,
        _STEPS.c.idempotency_key,
        *(_of_case(column) for column in ("process", "state", "coop_id")),
    )
)

#: A claimed step whose case left the state it was queued for: cancelled, as on leaving.
_DROP = (
    update(_STEPS)
    .where(_STEPS.c.id == bindparam("step_id"))
    .values(
        status=StepStatus.CANCELLED.value,
        finished_at=bindparam("now"),
        updated_at=bindparam("now"),
        lease_until=None,
    )
)


def complete(engine: Engine, claimed: ClaimedStep, outcome: Outcome) -> None:
    """Record success and fire the next trigger, in one transaction."""
    complete_many(engine, [(claimed, outcome)])


def complete_many(engine: Engine, results: list[tuple[ClaimedStep, Outcome]]) -> None:
    """Record the success of steps run together and fire their next triggers, in one
    transaction: their cases locked in one statement, their rows checked in another and
    finished in a third, the events, case updates and next steps of all of them written
    together when the transaction settles."""
    if not results:
        return
    if not any(_trigger_of(engine, claimed, outcome) for claimed, outcome in results):
        _complete_quietly(engine, results)
        return
    with engine.transaction() as tx:
        owned = _still_owned(tx, [claimed for claimed, _ in results])
        finished: list[dict[str, Any]] = []
        for claimed, outcome in results:
            if claimed.id not in owned:
                continue
            case = tx.lock(claimed.case_id)  # locked by _still_owned: no round trip
            if case.state != claimed.args.get("state"):
                # An earlier step of the same case, completed just before in this
                # transaction, moved the case on: this one is dropped, as on leaving.
                finished.append(_finished(claimed, StepStatus.CANCELLED, None))
                continue
            finished.append(_finished(claimed, StepStatus.DONE, outcome.result))
            trigger = _trigger_of(engine, claimed, outcome)
            if trigger is None:
                continue
            try:
                # A conflict is raised before fire writes anything: no savepoint needed.
                tx.fire(
                    claimed.case_id,
                    trigger,
                    actor=Actor.system(f"étape {claimed.name}"),
                    payload=outcome.payload,
                )
            except ConflictError as exc:
                # The case moved on meanwhile (cancelled by staff...): the result is kept.
                log.warning(
                    "step outcome not applied",
                    extra={"case_id": claimed.case_id, "step": claimed.name, "reason": str(exc)},
                )
        if finished:
            # Before the transaction settles: its update of the steps of the states left
            # only takes unfinished ones.
            with tx.session.no_autoflush:
                tx.session.execute(_FINISH.values(finished_at=tx.now, updated_at=tx.now), finished)


def _trigger_of(engine: Engine, claimed: ClaimedStep, outcome: Outcome) -> str | None:
    """The trigger a step's success fires: its outcome's, else its rule's ``on_done``."""
    return outcome.trigger or engine.definition(claimed.process).step_by_name[claimed.name].on_done


def _complete_quietly(engine: Engine, results: list[tuple[ClaimedStep, Outcome]]) -> None:
    """Record the success of steps that fire nothing (documents stored, emails sent):
    one statement marks done those this run still owns (still running, at the attempt
    it claimed), on a Core connection, without locking their cases. A running step is
    one whose case has not left its state since the claim (leaving cancels it in the
    same transaction), so the step's row, locked by the update, is all there is to
    check; the case lock and the state test of :func:`complete_many` are for the steps
    that move their case."""
    now = engine.clock.now()
    with engine.db.write_connection() as connection:
        done = set(
            connection.execute(
                update(_STEPS)
                .where(
                    tuple_(_STEPS.c.id, _STEPS.c.attempts).in_(
                        [(claimed.id, claimed.attempt) for claimed, _ in results]
                    ),
                    _STEPS.c.status == StepStatus.RUNNING.value,
                )
                .values(
                    status=StepStatus.DONE.value,
                    finished_at=now,
                    updated_at=now,
                    lease_until=None,
                )
                .returning(_STEPS.c.id)
            ).scalars()
        )
        kept = [
            {"step_id": claimed.id, "new_result": outcome.result}
            for claimed, outcome in results
            if claimed.id in done and outcome.result
        ]
        if kept:
            connection.execute(_RESULT, kept)
    for claimed, _ in results:
        if claimed.id not in done:
            log.warning(
                "step no longer owned", extra={"case_id": claimed.case_id, "step": claimed.id}
            )


_RESULT = (
    update(_STEPS)
    .where(_STEPS.c.id == bindparam("step_id"))
    .values(result=bindparam("new_result", type_=_STEPS.c.result.type))
)


_FINISH = (
    update(_STEPS)
    .where(_STEPS.c.id == bindparam("step_id"))
    .values(
        status=bindparam("new_status"),
        result=bindparam("new_result", type_=_STEPS.c.result.type),
        lease_until=None,
    )
)


def _finished(claimed: ClaimedStep, status: StepStatus, result: Any) -> dict[str, Any]:
    return {"step_id": claimed.id, "new_status": status.value, "new_result": result}


def _still_owned(tx: UnitOfWork, claimed: list[ClaimedStep]) -> set[int]:
    """The ids of the steps this run still owns, their cases and rows locked (the cases
    first, in the order of their ids: one lock order, no deadlock), read without loading
    them as objects (they are finished by one statement)."""
    tx.lock_many({c.case_id for c in claimed})
    rows = {
        row.id: row
        for row in tx.session.execute(
            select(_STEPS.c.id, _STEPS.c.status, _STEPS.c.attempts)
            .where(_STEPS.c.id.in_([c.id for c in claimed]))
            .with_for_update()
        )
    }
    owned = set()
    for c in claimed:
        row = rows.get(c.id)
        if row is None or row.status != StepStatus.RUNNING.value or row.attempts != c.attempt:
            log.warning("step no longer owned", extra={"case_id": c.case_id, "step": c.id})
            continue
        owned.add(c.id)
    return owned


def postpone(engine: Engine, claimed: ClaimedStep, reason: str, delay: timedelta) -> int | None:
    """The step waits (``reason`` shown on it) and runs again after ``delay``; the run
    does not count as one of its attempts. Returns the delay in ms of the message to
    publish, ``None`` when this run no longer owns the step."""
    with engine.transaction() as tx:
        step = _owned(tx, claimed)
        if step is None:
            return None
        step.attempts -= 1
        step.last_error = reason[:2000]
        step.last_traceback = None
        return _pending_again(tx, step, delay)


def fail(
    engine: Engine, claimed: ClaimedStep, error: str, traceback: str, *, permanent: bool
) -> int | None:
    """Record a failure. Returns the delay in ms of the retry to publish, or ``None`` when
    the step failed for good (the case is then stuck with the error)."""
    with engine.transaction() as tx:
        step = _owned(tx, claimed)
        if step is None:
            return None
        step.last_traceback = traceback[-20000:]
        if not permanent and step.attempts < step.max_attempts:
            timing = engine.timing
            delay = backoff(step.attempts, timing.backoff_base, timing.backoff_max)
            log.warning(
                "step will retry",
                extra={"case_id": step.case_id, "step": step.name, "attempt": step.attempts},
            )
            step.last_error = error[:2000]
            return _pending_again(tx, step, delay)
        fail_for_good(tx, tx.lock(step.case_id), step, error)  # locked by _owned already
        return None


def fail_for_good(tx: UnitOfWork, case: Case, step: Step, error: str) -> None:
    """The step will not run again unless staff retry it: the locked case is stuck with
    the step's label and the error (its recommended action: retry the step)."""
    _finish(tx, step, StepStatus.FAILED)
    step.last_error = error[:2000]
    definition = tx.engine.definition(case.process)
    label = definition.step_by_name[step.name].label
    tx.mark_stuck(case, definition.step_failed, step=label, error=error[:300])


def retry(tx: UnitOfWork, step_id: int, actor: Actor, comment: str | None = None) -> Step:
    """Staff action: run a failed step again with a fresh set of attempts."""
    found = tx.session.get(Step, step_id)
    if found is None:
        raise TransitionNotAllowed("Étape introuvable.")
    case = tx.lock(found.case_id)  # the case first, always: one lock order, no deadlock
    step = tx.session.get(Step, step_id, with_for_update=True, populate_existing=True)
    if step is None or step.status != StepStatus.FAILED.value:
        raise TransitionNotAllowed("Seule une étape en échec peut être relancée.")
    if case.state != step.args.get("state"):
        raise TransitionNotAllowed("Le dossier a changé d'état depuis l'échec de cette étape.")
    step.status = StepStatus.PENDING.value
    step.attempts = 0
    step.not_before = tx.now
    step.lease_until = tx.now + tx.engine.timing.publish_lease
    step.finished_at = None
    step.updated_at = tx.now
    if case.stuck_reason == "step_failed":
        tx.clear_stuck(case)
    case.version += 1
    tx.record(
        case,
        actor,
        kind="retry",
        from_state=case.state,
        to_state=case.state,
        payload={"step": step.name, "step_id": step.id},
        comment=comment,
    )
    tx.new_steps.append(step.id)
    return step


def _owned(tx: UnitOfWork, claimed: ClaimedStep) -> Step | None:
    """The step row, if this run still owns it (its lease was not taken over)."""
    return _owned_many(tx, [claimed]).get(claimed.id)


def _owned_many(tx: UnitOfWork, claimed: list[ClaimedStep]) -> dict[int, Step]:
    """The step rows this run still owns, by id, as objects (to fail, postpone or hand
    back; a completion needs only :func:`_still_owned`)."""
    owned = _still_owned(tx, claimed)
    if not owned:
        return {}
    return {
        step.id: step
        for step in tx.session.scalars(
            select(Step).where(Step.id.in_(owned)).execution_options(populate_existing=True)
        )
    }


def _pending_again(tx: UnitOfWork, step: Step, delay: timedelta) -> int:
    """Due again after ``delay``: the delay in ms of the message to publish."""
    step.status = StepStatus.PENDING.value
    step.not_before = tx.now + delay
    step.lease_until = step.not_before + tx.engine.timing.publish_lease
    step.updated_at = tx.now
    return int(delay.total_seconds() * 1000)


def _finish(tx: UnitOfWork, step: Step, status: StepStatus) -> None:
    step.status = status.value
    step.finished_at = tx.now
    step.updated_at = tx.now
    step.lease_until = None
