"""Running one step: claim it, call its handler, record the outcome or the failure.

Every log line carries the case id; every run is timed in
``coopflow_step_duration_seconds`` (see :func:`workers.metrics.step_duration`).
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import TYPE_CHECKING

from sqlalchemy import select

from workers.context import Services, StepContext, batch_of, gather_of
from workers.metrics import step_duration
from workers.steps import handler_for
from workflows.engine.errors import PermanentStepError, StepPostponed
from workflows.engine.steps import (
    ClaimedStep,
    Outcome,
    claim_many,
    complete_many,
    fail,
    postpone,
    release,
)
from workflows.models import Case, Step, StepStatus

if TYPE_CHECKING:
    from workflows.engine.engine import Engine

log = logging.getLogger(__name__)


def run_step(services: Services, step_id: int) -> None:
    """Idempotent: a duplicate or late delivery of ``step_id`` does nothing."""
    run_steps(services, [step_id])


def run_steps(services: Services, step_ids: list[int]) -> None:
    """Run the steps of one message, in order: claimed together, their handlers run, the
    successes completed together (:func:`workflows.engine.steps.complete_many`); a failure or a
    postponement is recorded for its step alone, at once. Consecutive steps of a kind
    that has a batch handler (:func:`workers.context.batched`: the invitation emails) are
    handed to it together; the others run one by one.

    Idempotent like a single step: the steps done, cancelled or owned by a live run
    elsewhere are skipped. A batch that runs longer than half the run lease hands its
    steps not yet started back to the queue rather than let their leases run out."""
    engine = services.engine
    claimed = claim_many(engine, step_ids)
    claimed += _gathered(engine, claimed)
    if len(claimed) < len(set(step_ids)) and log.isEnabledFor(logging.DEBUG):
        _log_skipped(engine, set(step_ids) - {c.id for c in claimed})
    deadline = time.monotonic() + engine.timing.run_lease.total_seconds() / 2
    done: list[tuple[ClaimedStep, Outcome]] = []
    left: list[ClaimedStep] = []
    try:
        for number, group in enumerate(_groups(claimed)):
            if number and time.monotonic() > deadline:
                left.extend(group)
                continue
            started = time.perf_counter()
            ctxs = [StepContext(step, services) for step in group]
            for ctx in ctxs:
                log.info("step started", extra={**ctx.log_extra, "attempt": ctx.step.attempt})
            for ctx, result in zip(ctxs, _run(ctxs, deadline), strict=True):
                if result is None:
                    left.append(ctx.step)
                    continue
                outcome = _settle(ctx, result, started, len(group))
                if outcome is not None:
                    done.append((ctx.step, outcome))
    finally:
        # Even when a handler raised past _run (the time limit), what succeeded is
        # recorded; the rest waits for its lease.
        complete_many(engine, done)
        for step, _ in done:
            log.info("step done", extra=StepContext(step, services).log_extra)
    if left:
        engine.publish(release(engine, left))
        log.warning("step batch over its time budget", extra={"released": len(left)})


def _gathered(engine: Engine, claimed: list[ClaimedStep]) -> list[ClaimedStep]:
    """The due steps of the kinds that gather (:func:`workers.context.batched`) taken
    along with a message that carries fewer of them: claimed like the message's own
    (a step another run claims first is simply not among them)."""
    if not claimed:
        return []
    last = claimed[-1]
    wanted = gather_of(handler_for(last.process, last.name))
    have = sum(1 for c in claimed if (c.process, c.name) == (last.process, last.name))
    if wanted <= have:
        return []
    mine = {c.id for c in claimed}
    with engine.db.read() as session:
        ids = session.scalars(
            select(Step.id)
            .join(Case, Case.id == Step.case_id)
            .where(
                Step.name == last.name,
                Case.process == last.process,
                Step.status == StepStatus.PENDING.value,
                Step.not_before <= engine.clock.now(),
            )
            .order_by(Step.id)
            .limit(wanted - have + len(mine))
        ).all()
    more = [i for i in ids if i not in mine][: wanted - have]
    return claim_many(engine, more) if more else []


def _groups(claimed: list[ClaimedStep]) -> list[list[ClaimedStep]]:
    """Consecutive steps of one batch handler together; every other step alone."""
    groups: list[list[ClaimedStep]] = []
    for step in claimed:
        key = (step.process, step.name)
        previous = groups[-1][-1] if groups else None
        if (
            previous is not None
            and (previous.process, previous.name) == key
            and batch_of(handler_for(*key)) is not None
        ):
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups


def _run(ctxs: list[StepContext], deadline: float) -> list[Outcome | Exception | None]:
    """The handler's result for each step: an outcome, the error it raised, or ``None``
    when a batch handler ran out of time before starting it."""
    step = ctxs[0].step
    handler = handler_for(step.process, step.name)
    batch = batch_of(handler)
    if batch is not None:
        try:
            return batch(ctxs, deadline)
        except Exception as exc:
            return [exc] * len(ctxs)
    try:
        if handler is None:
            raise PermanentStepError(f"aucun programme pour l'étape {step.name}")
        return [handler(ctxs[0])]
    except Exception as exc:
        return [exc]


def _settle(
    ctx: StepContext, result: Outcome | Exception, started: float, batch_size: int
) -> Outcome | None:
    """The outcome of a step that succeeded; ``None`` when it failed or was postponed
    (recorded here, its next run published)."""
    engine = ctx.engine
    claimed = ctx.step
    if isinstance(result, StepPostponed):
        delay = postpone(engine, claimed, str(result), result.delay)
        _observe(claimed, "postponed", started, batch_size)
        log.info("step postponed", extra={**ctx.log_extra, "reason": str(result)})
        if delay is not None:
            engine.publish([claimed.id], delay)
        return None
    if isinstance(result, Exception):
        permanent = isinstance(result, PermanentStepError)
        error = str(result) or result.__class__.__name__
        trace = "".join(traceback.format_exception(result))
        delay = fail(engine, claimed, error, trace, permanent=permanent)
        _observe(claimed, "retry" if delay is not None else "failed", started, batch_size)
        level = logging.WARNING if delay is not None else logging.ERROR
        log.log(level, "step failed", extra={**ctx.log_extra, "error": error, "retry_ms": delay})
        if delay is not None:
            engine.publish([claimed.id], delay)
        return None
    _observe(claimed, "done", started, batch_size)
    return result


def _log_skipped(engine: Engine, step_ids: set[int]) -> None:
    with engine.db.read() as session:
        for step_id, case_id in session.execute(
            select(Step.id, Step.case_id).where(Step.id.in_(step_ids))
        ):
            log.debug("step skipped", extra={"case_id": case_id, "step_id": step_id})


def _observe(step: ClaimedStep, outcome: str, started: float, batch_size: int) -> None:
    """The handler's time; a batch handler's shared by the steps it ran."""
    seconds = (time.perf_counter() - started) / batch_size
    step_duration().labels(process=step.process, step=step.name, outcome=outcome).observe(seconds)
