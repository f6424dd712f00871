"""Running one step: claim it, call its handler, record the outcome or the failure.

Every log line carries the case id; every run is timed in
``coopflow_step_duration_seconds`` (see :func:`coopflow.observability.step_duration`).
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import TYPE_CHECKING

from sqlalchemy import select

from coopflow.observability import step_duration
from workers.context import Services, StepContext
from workers.handlers import HANDLERS
from workflows.errors import PermanentStepError, StepPostponed
from workflows.models import Step
from workflows.steps import (
    ClaimedStep,
    Outcome,
    claim_many,
    complete_many,
    fail,
    postpone,
    release,
)

if TYPE_CHECKING:
    from workflows.engine import Engine

log = logging.getLogger(__name__)


def run_step(services: Services, step_id: int) -> None:
    """Idempotent: a duplicate or late delivery of ``step_id`` does nothing."""
    run_steps(services, [step_id])


def run_steps(services: Services, step_ids: list[int]) -> None:
    """Run the steps of one message, in order: claimed together, each handler run on its
    own, the successes completed together (:func:`workflows.steps.complete_many`); a
    failure or a postponement is recorded for its step alone, at once.

    Idempotent like a single step: the steps done, cancelled or owned by a live run
    elsewhere are skipped. A batch that runs longer than half the run lease hands its
    steps not yet started back to the queue rather than let their leases run out."""
    engine = services.engine
    claimed = claim_many(engine, step_ids)
    if len(claimed) < len(set(step_ids)) and log.isEnabledFor(logging.DEBUG):
        _log_skipped(engine, set(step_ids) - {c.id for c in claimed})
    budget = engine.timing.run_lease.total_seconds() / 2
    batch_started = time.perf_counter()
    done: list[tuple[ClaimedStep, Outcome]] = []
    try:
        for index, step in enumerate(claimed):
            if index and time.perf_counter() - batch_started > budget:
                left = claimed[index:]
                _complete(services, done)
                done = []
                engine.publish(release(engine, left))
                log.warning("step batch over its time budget", extra={"released": len(left)})
                return
            outcome = _run_one(services, step)
            if outcome is not None:
                done.append((step, outcome))
    finally:
        # Even when a handler raised past _run_one (the time limit), what succeeded is
        # recorded; the rest waits for its lease.
        _complete(services, done)


def _complete(services: Services, done: list[tuple[ClaimedStep, Outcome]]) -> None:
    complete_many(services.engine, done)
    for step, _ in done:
        log.info("step done", extra=StepContext(step, services).log_extra)


def _run_one(services: Services, claimed: ClaimedStep) -> Outcome | None:
    """Run one claimed step's handler: its outcome, or ``None`` when it failed or was
    postponed (recorded here, its next run published)."""
    engine = services.engine
    started = time.perf_counter()
    ctx = StepContext(claimed, services)
    log.info("step started", extra={**ctx.log_extra, "attempt": claimed.attempt})
    handler = HANDLERS.get((claimed.process, claimed.name))
    try:
        if handler is None:
            raise PermanentStepError(f"aucun programme pour l'étape {claimed.name}")
        outcome = handler(ctx)
    except StepPostponed as waiting:
        delay = postpone(engine, claimed, str(waiting), waiting.delay)
        _observe(claimed.process, claimed.name, "postponed", started)
        log.info("step postponed", extra={**ctx.log_extra, "reason": str(waiting)})
        if delay is not None:
            engine.publish([claimed.id], delay)
        return None
    except Exception as exc:
        permanent = isinstance(exc, PermanentStepError)
        error = str(exc) or exc.__class__.__name__
        delay = fail(engine, claimed, error, traceback.format_exc(), permanent=permanent)
        _observe(claimed.process, claimed.name, "retry" if delay is not None else "failed", started)
        level = logging.WARNING if delay is not None else logging.ERROR
        log.log(level, "step failed", extra={**ctx.log_extra, "error": error, "retry_ms": delay})
        if delay is not None:
            engine.publish([claimed.id], delay)
        return None
    _observe(claimed.process, claimed.name, "done", started)
    return outcome


def _log_skipped(engine: Engine, step_ids: set[int]) -> None:
    with engine.db.read() as session:
        for step_id, case_id in session.execute(
            select(Step.id, Step.case_id).where(Step.id.in_(step_ids))
        ):
            log.debug("step skipped", extra={"case_id": case_id, "step_id": step_id})


def _observe(process: str, step: str, outcome: str, started: float) -> None:
    seconds = time.perf_counter() - started
    step_duration().labels(process=process, step=step, outcome=outcome).observe(seconds)
