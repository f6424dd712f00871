"""The scheduler recovers steps whose message never ran: not published, lost with a
flushed broker, or claimed by a worker that died. Real broker and worker threads."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from sqlalchemy import select

from coopflow.runtime import build_runtime
from tests.helpers import start_invitation
from workflows.engine.scheduling import tick
from workflows.engine.steps import claim
from workflows.models import Case, Step


@pytest.fixture
def idle_runtime(settings, smtp_server, clock):
    """The system with its worker not started yet."""
    rt = build_runtime(settings.with_overrides(smtp_url=smtp_server.url), clock=clock)
    yield rt
    rt.stop()


def _invite(rt, ad) -> tuple[int, str]:
    case_id, _, mandataire = start_invitation(rt.engine, ad)
    return case_id, mandataire.email


def _state(rt, case_id):
    with rt.db.read() as s:
        return s.get(Case, case_id).state


def _refused(step_ids: list[int], delay_ms: int) -> None:
    raise ConnectionError("the broker refused the message")


def test_a_step_committed_but_never_published_is_recovered(idle_runtime, smtp_server, clock, ad):
    """Its publish failed after the commit: the scheduler trusts the lease and waits."""
    rt = idle_runtime
    rt.start_worker(threads=2)
    publisher, rt.engine.publisher = rt.engine.publisher, _refused
    case_id, address = _invite(rt, ad)
    rt.engine.publisher = publisher
    rt.join()
    assert smtp_server.to(address) == [] and _state(rt, case_id) == "sending"

    assert tick(rt.engine).steps_republished == 0  # its lease has not run out yet
    clock.advance(timedelta(minutes=6))
    assert tick(rt.engine).steps_republished == 1
    rt.join()
    assert len(smtp_server.to(address)) == 1 and _state(rt, case_id) == "invited"


def test_messages_lost_with_a_flushed_broker_are_recovered(
    idle_runtime, smtp_server, clock, ad, settings
):
    rt = idle_runtime
    cases = [_invite(rt, ad) for _ in range(5)]
    if settings.broker_url.startswith("redis"):
        redis.Redis.from_url(settings.broker_url).flushdb()
    else:
        rt.broker.flush_all()
    rt.start_worker(threads=2)
    rt.join()
    assert smtp_server.messages == []

    clock.advance(timedelta(minutes=6))
    assert tick(rt.engine).steps_republished == 5
    rt.join()
    for case_id, address in cases:
        assert len(smtp_server.to(address)) == 1
        assert _state(rt, case_id) == "invited"


def test_a_step_claimed_by_a_worker_that_died_runs_again(idle_runtime, smtp_server, clock, ad):
    rt = idle_runtime
    case_id, address = _invite(rt, ad)
    rt.broker.flush_all()
    with rt.db.read() as s:
        step_id = s.scalars(select(Step.id).where(Step.case_id == case_id)).one()
    assert claim(rt.engine, step_id) is not None  # ... and the worker was killed here
    rt.start_worker(threads=2)

    clock.advance(timedelta(minutes=1))
    assert tick(rt.engine).steps_republished == 0  # still within the run's lease
    clock.advance(timedelta(minutes=2))
    assert tick(rt.engine).steps_republished == 1
    rt.join()
    with rt.db.read() as s:
        step = s.get(Step, step_id)
    assert (step.status, step.attempts) == ("done", 2)
    assert len(smtp_server.to(address)) == 1 and _state(rt, case_id) == "invited"


def test_a_step_that_kills_its_worker_every_time_ends_stuck(idle_runtime, clock, ad):
    rt = idle_runtime
    case_id, _ = _invite(rt, ad)
    with rt.db.read() as s:
        step_id = s.scalars(select(Step.id).where(Step.case_id == case_id)).one()
    for _ in range(5):  # five deliveries, five dead workers
        assert claim(rt.engine, step_id) is not None
        clock.advance(timedelta(minutes=3))
        tick(rt.engine)
    with rt.db.read() as s:
        step, case = s.get(Step, step_id), s.get(Case, case_id)
    assert (step.status, step.attempts) == ("failed", 5)
    assert case.stuck_reason == "step_failed" and "s'est arrêté" in case.stuck_message
