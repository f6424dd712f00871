"""Bulk jobs through the real broker and worker threads: one batch per message, and the
scheduler hands on a job whose message was lost or whose worker died."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from sqlalchemy import select

from coopflow.runtime import build_runtime
from tests import factories
from tests.helpers import invitation_case
from tests.web.conftest import settle
from workflows.engine import bulk
from workflows.engine.engine import Actor
from workflows.engine.scheduling import tick
from workflows.models import BulkJob, Case

SYSTEM = Actor.system("test")


@pytest.fixture
def idle_runtime(settings, smtp_server, clock):
    """The system with its worker not started yet."""
    rt = build_runtime(settings.with_overrides(smtp_url=smtp_server.url), clock=clock)
    yield rt
    rt.stop()


@pytest.fixture
def staff(ad):
    return factories.StaffFactory(ad=ad, full_name="Claire Agent")


def _expired_cases(rt, ad, n: int) -> list[tuple[int, str]]:
    """``n`` expired invitations (their first message never sent: no worker yet)."""
    out = []
    for _ in range(n):
        mandataire = factories.MandataireFactory(coop__ad=ad)
        with rt.engine.transaction() as tx:
            case = invitation_case(tx, mandataire, "sent", "expire", actor=SYSTEM)
        out.append((case.id, mandataire.email))
    return out


def _resend_job(rt, staff, case_ids: list[int]) -> int:
    with rt.engine.transaction() as tx:
        job = bulk.create(
            tx,
            staff_id=staff.id,
            action="fire",
            params={"trigger": "resend"},
            case_ids=case_ids,
            comment="Relance",
            description="test",
        )
    with rt.engine.transaction() as tx:
        bulk.confirm(tx, job.id, staff.id)
    return job.id


def _job(rt, job_id) -> BulkJob:
    with rt.db.read() as s:
        return s.get(BulkJob, job_id)


def _states(rt, cases) -> list[str]:
    with rt.db.read() as s:
        return [s.get(Case, case_id).state for case_id, _ in cases]


def test_a_long_job_takes_one_batch_per_message(idle_runtime, smtp_server, ad, staff, monkeypatch):
    rt = idle_runtime
    monkeypatch.setattr(bulk, "BATCH", 2)
    batches: list[int] = []
    process = bulk.process

    def recorded(engine, job_id, batch=bulk.BATCH):
        progress = process(engine, job_id, batch)
        batches.append(progress.processed)
        return progress

    monkeypatch.setattr(bulk, "process", recorded)
    cases = _expired_cases(rt, ad, 5)
    rt.start_worker(threads=2)
    job_id = _resend_job(rt, staff, [c for c, _ in cases])
    rt.join()

    assert batches == [2, 4, 5]
    job = _job(rt, job_id)
    assert (job.status, job.done_count, job.skipped_count) == ("done", 5, 0)
    assert _states(rt, cases) == ["invited"] * 5
    for _, address in cases:
        assert len(smtp_server.to(address)) == 1


def test_a_job_whose_message_was_lost_is_handed_on_by_the_scheduler(
    idle_runtime, smtp_server, clock, ad, staff, settings
):
    rt = idle_runtime
    cases = _expired_cases(rt, ad, 3)
    job_id = _resend_job(rt, staff, [c for c, _ in cases])
    if settings.broker_url.startswith("redis"):  # the broker lost everything
        redis.Redis.from_url(settings.broker_url).flushdb()
    else:
        rt.broker.flush_all()
    rt.start_worker(threads=2)
    rt.join()
    assert _job(rt, job_id).status == "pending" and _states(rt, cases) == ["expired"] * 3

    assert tick(rt.engine).bulk_jobs_republished == 0  # its lease has not run out yet
    clock.advance(timedelta(minutes=6))
    assert tick(rt.engine).bulk_jobs_republished == 1
    rt.join()
    assert _job(rt, job_id).status == "done"
    assert _states(rt, cases) == ["invited"] * 3
    for _, address in cases:
        assert len(smtp_server.to(address)) == 1


def test_a_job_whose_worker_died_mid_batch_is_finished_by_another(
    idle_runtime, smtp_server, clock, ad, staff
):
    rt = idle_runtime
    cases = _expired_cases(rt, ad, 3)
    job_id = _resend_job(rt, staff, [c for c, _ in cases])
    rt.broker.flush_all()
    assert bulk.claim(rt.engine, job_id)  # a worker took the job,
    bulk.process(rt.engine, job_id, batch=1)  # acted on the first case, then died
    rt.start_worker(threads=2)
    rt.join()  # the job waits for its lease
    assert _job(rt, job_id).status == "running" and _states(rt, cases)[1:] == ["expired"] * 2

    clock.advance(timedelta(minutes=1))
    # The first case's step, written by the dead run with no consumer to publish to, is
    # published by this tick; the job is still within the run's lease.
    assert tick(rt.engine).bulk_jobs_republished == 0
    # Its email goes out before the clock jumps again: a step still running when the
    # clock passes its lease would be taken for a dead worker's (and sent twice).
    settle(rt)
    clock.advance(bulk.RUN_LEASE)
    assert tick(rt.engine).bulk_jobs_republished == 1
    rt.join()
    job = _job(rt, job_id)
    assert (job.status, job.done_count) == ("done", 3)
    with rt.db.read() as s:
        resent = s.scalars(select(Case.id).where(Case.state == "invited")).all()
    assert sorted(resent) == sorted(c for c, _ in cases)
    for _, address in cases:
        assert len(smtp_server.to(address)) == 1
