"""What a step handler is given: its step and the services of the running process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from workflows.engine.steps import ClaimedStep, Outcome

if TYPE_CHECKING:
    from workers.providers.mail import Mailer
    from workers.providers.swan.interface import Swan
    from workflows.engine.engine import Engine
    from workflows.links import Links


class StepSettings(Protocol):
    """The settings steps read (``coopflow.config.Settings`` has them)."""

    @property
    def base_url(self) -> str: ...
    @property
    def mail_from(self) -> str: ...
    @property
    def mail_report_wait_seconds(self) -> float: ...


class Services(Protocol):
    settings: StepSettings
    engine: Engine
    mailer: Mailer
    swan: Swan
    links: Links


@dataclass(frozen=True)
class StepContext:
    step: ClaimedStep
    services: Services

    @property
    def engine(self) -> Engine:
        return self.services.engine

    @property
    def log_extra(self) -> dict[str, object]:
        return {"case_id": self.step.case_id, "step": self.step.name, "step_id": self.step.id}


#: Runs the steps of one kind given together, before ``deadline`` (``time.monotonic``):
#: for each, its outcome, the error its step raises, or ``None`` when it was not started
#: (it goes back to the queue).
BatchHandler = Callable[[list[StepContext], float | None], list[Outcome | Exception | None]]


def batched(batch: BatchHandler, *, gather: int = 0) -> Callable[[StepContext], Outcome]:
    """The handler of one step made of a batch handler; the runner finds the batch
    handler on it (``batch_of``) and hands it consecutive steps of its kind together.

    ``gather``: a message of fewer steps of this kind takes along other steps of the
    same kind that are due, up to that many in all (:func:`gather_of`): steps queued
    one at a time (a mandataire's submission, a staff validation) still share the work
    a batch saves, such as one WeasyPrint pass for many documents. Their own messages
    find them done later (a delivery is idempotent)."""

    def handle(ctx: StepContext) -> Outcome:
        (result,) = batch([ctx], None)
        if isinstance(result, Exception):
            raise result
        assert result is not None  # no deadline: started
        return result

    handle.__doc__ = batch.__doc__
    handle.batch = batch  # type: ignore[attr-defined]
    handle.gather = gather  # type: ignore[attr-defined]
    return handle


def batch_of(handler: Callable[[StepContext], Outcome] | None) -> BatchHandler | None:
    """The batch handler behind ``handler``, if it was made by :func:`batched`."""
    return getattr(handler, "batch", None)


def gather_of(handler: Callable[[StepContext], Outcome] | None) -> int:
    """How many steps of its kind a run of ``handler`` takes along (0: only its own)."""
    return int(getattr(handler, "gather", 0))
