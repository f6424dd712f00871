"""Steps written by a process that publishes nothing (a CLI command of the embedded mode,
whose in-process broker has no worker) are due at once: the next tick of a process that
publishes hands them to its broker, once; the steps it published itself stay its own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.conftest import RecordingPublisher
from tests.helpers import start_invitation
from workers.scheduler import Scheduler
from workflows.engine.clock import MovableClock
from workflows.engine.db import Database
from workflows.engine.engine import Engine
from workflows.engine.scheduling import tick
from workflows.models import Step
from workflows.processes import DEFINITIONS


@pytest.fixture
def command(db: Database, clock: MovableClock) -> Engine:
    """Another process on the same database, with nobody consuming its broker."""
    return Engine(db, DEFINITIONS, clock=clock)


def _step(engine: Engine, step_id: int) -> Step:
    with engine.db.read() as session:
        step = session.get(Step, step_id)
        assert step is not None
        session.expunge(step)
        return step


def test_a_step_nobody_published_is_published_by_the_next_tick_once(
    engine, publisher, command, clock, ad
):
    _, step_id, _ = start_invitation(command, ad)
    assert not command.publishes
    written = _step(command, step_id)
    assert (written.status, written.lease_until) == ("pending", written.created_at)  # due now
    assert publisher.ids == []

    clock.advance(timedelta(seconds=1))
    assert tick(engine).steps_republished == 1
    assert publisher.ids == [step_id]
    published = _step(engine, step_id)
    assert published.lease_until == published.updated_at + engine.timing.publish_lease

    clock.advance(timedelta(seconds=30))
    assert tick(engine).steps_republished == 0  # published now: its message is on its way
    assert publisher.ids == [step_id]


def test_a_step_its_process_published_is_not_published_again(engine, publisher, clock, ad):
    _, step_id, _ = start_invitation(engine, ad)
    assert engine.publishes and publisher.ids == [step_id]  # at commit
    written = _step(engine, step_id)
    assert written.lease_until == written.created_at + engine.timing.publish_lease

    for _ in range(3):
        clock.advance(timedelta(seconds=5))
        assert tick(engine).steps_republished == 0
    assert publisher.ids == [step_id]

    clock.advance(engine.timing.publish_lease)  # a lost message: the lease ran out
    assert tick(engine).steps_republished == 1
    assert publisher.ids == [step_id, step_id]


def test_a_process_that_does_not_publish_leaves_pending_steps_to_one_that_does(
    engine, publisher, command, clock, ad
):
    _, step_id, _ = start_invitation(command, ad)
    clock.advance(timedelta(seconds=1))
    assert tick(command).steps_republished == 0  # it could not publish them
    assert _step(command, step_id).lease_until < clock.now()  # still due
    assert tick(engine).steps_republished == 1 and publisher.ids == [step_id]


def test_a_retry_written_without_publishing_is_due_when_its_backoff_ends(
    engine, publisher, command, clock, ad
):
    from workflows.engine.steps import claim, fail

    _, step_id, _ = start_invitation(engine, ad)
    claimed = claim(command, step_id)
    assert claimed is not None
    delay_ms = fail(command, claimed, "SMTP injoignable", "Traceback", permanent=False)
    assert delay_ms is not None and delay_ms > 0
    retried = _step(command, step_id)
    backoff = retried.not_before - retried.updated_at
    assert retried.lease_until == retried.not_before  # due when its backoff ends, not later
    assert abs(backoff - timedelta(milliseconds=delay_ms)) < timedelta(milliseconds=1)

    # The clock runs with real time too: 5 s of margin for a slow machine (a first
    # backoff is at least 8 s).
    clock.advance(backoff - timedelta(seconds=5))
    assert tick(engine).steps_republished == 0  # its backoff is not over
    clock.advance(timedelta(seconds=6))
    assert tick(engine).steps_republished == 1
    assert publisher.ids == [step_id, step_id]


@pytest.fixture
def scheduler(engine: Engine) -> Iterator[Scheduler]:
    """A scheduler whose full tick is a minute away, looking for due steps every 50 ms."""
    running = Scheduler(engine, interval=60, steps_interval=0.05)
    yield running
    running.stop()


def test_the_scheduler_looks_for_due_steps_between_its_ticks(
    scheduler: Scheduler, publisher: RecordingPublisher, command, clock, ad
):
    scheduler.start()
    time.sleep(0.2)  # its first tick is done: nothing was due
    assert publisher.ids == []
    _, step_id, _ = start_invitation(command, ad)
    clock.advance(timedelta(seconds=1))
    deadline = time.monotonic() + 5
    while publisher.ids != [step_id]:
        assert time.monotonic() < deadline, "the due step was not published between two ticks"
        time.sleep(0.02)
    time.sleep(0.3)  # a few more looks: it is published once
    assert publisher.ids == [step_id]
