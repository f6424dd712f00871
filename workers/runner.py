"""Running one step: claim it, call its handler, record the outcome or the failure.

Every log line carries the case id; every run is timed in
``coopflow_step_duration_seconds`` (see :func:`coopflow.observability.step_duration`).
"""

from __future__ import annotations

import logging
import time
import traceback

from coopflow.observability import step_duration
from workers.context import Services, StepContext
from workers.handlers import HANDLERS
from workflows.errors import PermanentStepError, StepPostponed
from workflows.models import Step
from workflows.steps import claim, complete, fail, postpone

log = logging.getLogger(__name__)


def run_step(services: Services, step_id: int) -> None:
    """Idempotent: a duplicate or late delivery of ``step_id`` does nothing."""
    engine = services.engine
    claimed = claim(engine, step_id)
    if claimed is None:
        if log.isEnabledFor(logging.DEBUG):
            with engine.db.read() as session:
                step = session.get(Step, step_id)
                case_id = step.case_id if step is not None else None
            log.debug("step skipped", extra={"case_id": case_id, "step_id": step_id})
        return
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
        return
    except Exception as exc:
        permanent = isinstance(exc, PermanentStepError)
        error = str(exc) or exc.__class__.__name__
        delay = fail(engine, claimed, error, traceback.format_exc(), permanent=permanent)
        _observe(claimed.process, claimed.name, "retry" if delay is not None else "failed", started)
        level = logging.WARNING if delay is not None else logging.ERROR
        log.log(level, "step failed", extra={**ctx.log_extra, "error": error, "retry_ms": delay})
        if delay is not None:
            engine.publish([claimed.id], delay)
        return
    complete(engine, claimed, outcome)
    _observe(claimed.process, claimed.name, "done", started)
    log.info("step done", extra=ctx.log_extra)


def _observe(process: str, step: str, outcome: str, started: float) -> None:
    seconds = time.perf_counter() - started
    step_duration().labels(process=process, step=step, outcome=outcome).observe(seconds)
