"""Running one step: claim it, call its handler, record the outcome or the failure."""

from __future__ import annotations

import logging
import traceback

from workers.context import Services, StepContext
from workers.handlers import HANDLERS
from workflows.errors import PermanentStepError
from workflows.steps import claim, complete, fail

log = logging.getLogger(__name__)


def run_step(services: Services, step_id: int) -> None:
    """Idempotent: a duplicate or late delivery of ``step_id`` does nothing."""
    engine = services.engine
    claimed = claim(engine, step_id)
    if claimed is None:
        log.debug("step skipped", extra={"step_id": step_id})
        return
    ctx = StepContext(claimed, services)
    log.info("step started", extra={**ctx.log_extra, "attempt": claimed.attempt})
    handler = HANDLERS.get((claimed.process, claimed.name))
    try:
        if handler is None:
            raise PermanentStepError(f"aucun programme pour l'étape {claimed.name}")
        outcome = handler(ctx)
    except Exception as exc:
        permanent = isinstance(exc, PermanentStepError)
        error = str(exc) or exc.__class__.__name__
        delay = fail(engine, claimed, error, traceback.format_exc(), permanent=permanent)
        level = logging.WARNING if delay is not None else logging.ERROR
        log.log(level, "step failed", extra={**ctx.log_extra, "error": error, "retry_ms": delay})
        if delay is not None:
            engine.publish([claimed.id], delay)
        return
    complete(engine, claimed, outcome)
    log.info("step done", extra=ctx.log_extra)
