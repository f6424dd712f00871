"""The engine: firing triggers in one transaction, outbox steps published after commit.

Usage::

    with engine.transaction() as tx:
        tx.fire(case_id, "resend", actor=Actor.staff(user), comment="adresse corrigée")
    # committed here; the steps the new state asked for are now published

Transition effects only touch the database; network calls happen in steps. What a
transaction may do is :class:`workflows.engine.unit_of_work.UnitOfWork`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from workflows.engine.actor import Actor
from workflows.engine.catalog import Catalog
from workflows.engine.clock import Clock, SystemClock
from workflows.engine.db import Database
from workflows.engine.definition import Definition
from workflows.engine.timing import StepTiming
from workflows.engine.unit_of_work import UnitOfWork

__all__ = ["Actor", "BulkPublisher", "Engine", "Publisher", "StepTiming", "UnitOfWork"]


log = logging.getLogger(__name__)

#: Receives step ids (and a delay in ms) once their transaction has committed.
Publisher = Callable[[list[int], int], None]
#: Receives bulk job ids (see :mod:`workflows.engine.bulk`) once their transaction has committed.
BulkPublisher = Callable[[list[int]], None]


class Engine:
    """Holds the definitions, the database, the clock and the publisher."""

    def __init__(
        self,
        db: Database,
        definitions: Mapping[str, Definition],
        *,
        clock: Clock | None = None,
        publisher: Publisher | None = None,
        bulk_publisher: BulkPublisher | None = None,
        timing: StepTiming | None = None,
    ) -> None:
        self.db = db
        self._timing = timing or StepTiming()
        self._unpublished_timing = self._timing.unpublished()
        catalog = Catalog(definitions)  # checks the rules between the definitions
        self.definitions = catalog.definitions
        #: ``(process, state)`` → the definitions whose prerequisite entering it may meet.
        self.dependents = catalog.dependents
        self.clock: Clock = clock or SystemClock()
        self.publisher = publisher
        self.bulk_publisher = bulk_publisher

    @property
    def publishes(self) -> bool:
        """Whether step ids reach a broker somebody consumes. Without a publisher (a
        command of the embedded mode: its in-process broker has no worker), the steps it
        writes are not published but due at once: the next tick of any running
        scheduler (``coopflow serve``'s) publishes them."""
        return self.publisher is not None

    @property
    def timing(self) -> StepTiming:
        """The leases and backoff; the publish lease is zero while nothing is published
        (no message on its way to wait for), so every step written is due by construction."""
        return self._timing if self.publishes else self._unpublished_timing

    def definition(self, process: str) -> Definition:
        return self.definitions[process]

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """One write transaction; its new steps (and bulk jobs) are published only after
        it commits."""
        with self.db.write() as session:
            tx = UnitOfWork(self, session)
            yield tx
            tx.settle()
        self.publish(tx.new_steps)
        self.publish_bulk(tx.new_bulk_jobs)

    def publish(self, step_ids: list[int], delay_ms: int = 0) -> None:
        """Hand step ids to the broker (without a publisher: nothing, the rows are due
        for the scheduler). A failure here loses nothing: the rows wait in the database
        and the scheduler publishes them again when their lease runs out."""
        if not step_ids or self.publisher is None:
            return
        try:
            self.publisher(step_ids, delay_ms)
        except Exception:
            log.exception("publish failed, the scheduler will recover", extra={"steps": step_ids})

    def publish_bulk(self, job_ids: list[int]) -> None:
        """Hand bulk job ids to the broker; like steps, a lost message only waits for the
        scheduler, which hands the job on again when its lease runs out."""
        if not job_ids or self.bulk_publisher is None:
            return
        try:
            self.bulk_publisher(job_ids)
        except Exception:
            log.exception("publish failed, the scheduler will recover", extra={"bulk": job_ids})
