"""Fault injection: 500 invitations through real worker and scheduler processes, a fault
in the middle of the run, and every case must finish with one email each.

``make test PYTEST_ARGS="-m fault"`` runs these alone; docs/reliability.md says what
each proves and keeps the last figures.
"""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from coopflow.config import load_settings
from coopflow.runtime import build_runtime
from tests.faults.cluster import (
    CASES,
    FAULT_AT,
    STAFF_EMAIL,
    WORKER_GROUPS,
    Cluster,
    Figures,
)
from workflows.engine import bulk
from workflows.engine.bulk_actions import RETRY_STEP
from workflows.models import BulkJob, StaffUser

pytestmark = [pytest.mark.fault, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300)]


def _until_the_middle(cluster: Cluster) -> int:
    """Start the processes, import the coops with their invitations, and return once
    FAULT_AT cases are finished (how many exactly, for the report)."""
    cluster.start()
    cluster.import_coops()
    cluster.wait_finished(FAULT_AT, timeout=120)
    finished = cluster.finished()
    assert finished < CASES, "the run ended before the fault: nothing was tested"
    return finished


def _check(cluster: Cluster, figures: Figures) -> None:
    figures.report()
    cluster.assert_running()
    # resent: the same message (same Message-ID) handed twice to the server. A worker
    # killed between the server's « 250 » and the commit recording it leaves that
    # unknown; the relay's report settles it, so even then nothing goes twice.
    assert (figures.finished, figures.lost, figures.duplicated, figures.resent) == (
        CASES,
        0,
        0,
        0,
    ), figures
    cluster.assert_every_step_done()


def test_a_kill_workers(cluster: Cluster) -> None:
    """``kill -9`` of every worker process group mid-run, then a restart."""
    at_fault = _until_the_middle(cluster)
    fault_at = time.time()
    killed = cluster.kill_workers()
    # Emails a killed thread was handing over: the server may or may not have them.
    uncertain = cluster.scalar(
        "SELECT count(*) FROM emails WHERE status = 'sending' AND handed_at IS NOT NULL"
    )
    time.sleep(1)
    for _ in range(WORKER_GROUPS):
        cluster.start_worker()
    cluster.wait_finished()
    figures = cluster.figures(fault_at, at_fault, killed_groups=killed, uncertain=uncertain)
    _check(cluster, figures)


def test_b_flush_redis(cluster: Cluster) -> None:
    """FLUSHDB of the broker's database mid-run: every queued message is gone."""
    at_fault = _until_the_middle(cluster)
    fault_at = time.time()
    cluster.redis.flush()
    cluster.wait_finished()
    _check(cluster, cluster.figures(fault_at, at_fault))
    _check_worker_metrics(cluster)


def _check_worker_metrics(cluster: Cluster) -> None:
    """The worker groups' Prometheus ports (Dramatiq's middleware, multiprocess mode)
    serve Dramatiq's metrics and the step durations: every invitation was run to
    ``done`` once, by one of them (no worker died in this scenario)."""
    done = 0.0
    seen = set()
    for family in text_string_to_metric_families(cluster.scrape_workers()):
        seen.add(family.name)
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "coopflow_step_duration_seconds_count"
                and labels.get("step") == "send_invitation"
                and labels.get("outcome") == "done"
            ):
                done += sample.value
    assert {"dramatiq_messages", "coopflow_step_duration_seconds"} <= seen, sorted(seen)
    assert done == CASES


def test_b_restart_redis(cluster: Cluster) -> None:
    """Redis shut down (without saving) and started again mid-run."""
    at_fault = _until_the_middle(cluster)
    fault_at = time.time()
    cluster.redis.stop()
    time.sleep(1)
    cluster.redis.start()
    cluster.wait_finished()
    _check(cluster, cluster.figures(fault_at, at_fault))


def test_c_restart_postgres(cluster: Cluster) -> None:
    """PostgreSQL restarted mid-run: every connection of every process is cut. Workers,
    schedulers and the web (gunicorn) carry on without a restart: the web answers
    ``/readyz`` with 200 again by itself."""
    at_fault = _until_the_middle(cluster)
    web = cluster.web_url
    assert cluster.web_status(web) == 200
    fault_at = time.time()
    cluster.postgres.restart()
    down = round(time.time() - fault_at, 1)
    cluster.wait_for(lambda: cluster.web_status(web) == 200, timeout=30)
    web_back = round(time.time() - fault_at, 1)
    assert cluster.web_status(web, "/admin/connexion") == 200
    cluster.wait_finished(timeout=180)
    _check(
        cluster,
        cluster.figures(fault_at, at_fault, restart_seconds=down, web_ready_seconds=web_back),
    )


def test_d_provider_down(cluster: Cluster) -> None:
    """The mail server answers 451 to every recipient until every remaining case is
    stuck; once it is back, a bulk « retry the failed step » finishes them all."""
    at_fault = _until_the_middle(cluster)
    fault_at = time.time()
    cluster.smtp.unavailable = True
    cluster.wait_for(lambda: cluster.finished() + cluster.stuck() == CASES, timeout=120)
    stuck = cluster.stuck()
    assert stuck > 0
    reasons = cluster.query(
        "SELECT DISTINCT c.stuck_message, s.status, s.attempts FROM cases c "
        "JOIN steps s ON s.case_id = c.id WHERE c.stuck_reason = 'step_failed'"
    )
    assert len(reasons) == 1, reasons
    message, status, attempts = reasons[0]
    assert (status, attempts) == ("failed", 5)
    assert "Envoi de l'invitation" in message and "451" in message, message
    outage = round(time.time() - fault_at, 1)
    cluster.smtp.unavailable = False

    rt = build_runtime(load_settings(cluster.env, dotenv=False))
    try:
        retried_at = time.time()
        with rt.engine.transaction() as tx:
            staff_id = tx.session.scalar(select(StaffUser.id).where(StaffUser.email == STAFF_EMAIL))
            ids = [
                i for (i,) in cluster.query("SELECT id FROM cases WHERE stuck_reason IS NOT NULL")
            ]
            job = bulk.create(
                tx,
                staff_id=staff_id,
                action=RETRY_STEP,
                params={},
                case_ids=ids,
                comment="Le serveur de messagerie est revenu.",
                description="Invitations bloquées par la panne du serveur de messagerie",
            )
        with rt.engine.transaction() as tx:
            bulk.confirm(tx, job.id, staff_id)
        cluster.wait_finished()
        with rt.db.read() as session:
            done = session.get(BulkJob, job.id)
            assert done is not None
            cluster.wait_for(
                lambda: session.get(BulkJob, job.id, populate_existing=True).status == "done", 30
            )
            assert (done.done_count, done.skipped_count) == (stuck, 0)
    finally:
        rt.stop()
    figures = cluster.figures(
        fault_at,
        at_fault,
        stuck=stuck,
        outage_seconds=outage,
        temporary_failures=cluster.smtp.temporary_failures,
        bulk_retry_seconds=round(cluster.last_finished_at() - retried_at, 1),
    )
    _check(cluster, figures)
    assert cluster.stuck() == 0
