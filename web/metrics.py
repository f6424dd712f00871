"""``/metrics``: coopflow's figures for Prometheus, behind a bearer token.

Computed at scrape time from the database (the source of truth, shared by every
process), with one cheap ``GROUP BY`` per family on indexed columns: cases by process
and state, stuck cases by reason, steps by status, the age of the oldest due step still
pending. In the embedded mode the step durations of the in-process workers are added;
in the distributed mode the ``dramatiq`` workers serve them on their own port (9191).

Answers 404 unless ``COOPFLOW_METRICS_TOKEN`` is set, then 401 without
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from flask import Blueprint, Response, abort, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from web.extensions import csrf
from web.runtime import Runtime, runtime
from workflows.models import Case, Step, StepStatus

bp = Blueprint("metrics", __name__)
csrf.exempt(bp)


@bp.get("/metrics")
def metrics() -> Response:
    rt = runtime()
    expected = rt.settings.metrics_token
    if not expected:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        return Response(
            "Jeton manquant ou invalide.\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(rt))
    for collector in rt.worker_metrics():
        registry.register(collector)
    body = generate_latest(registry)
    return Response(body, mimetype=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


class DatabaseCollector(Collector):
    """The gauges read from the database at each scrape."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        now = self.rt.engine.clock.now()
        with self.rt.db.read() as session:
            cases = session.execute(
                select(Case.process, Case.state, func.count()).group_by(Case.process, Case.state)
            ).all()
            stuck = session.execute(
                select(Case.stuck_reason, func.count())
                .where(Case.stuck_reason.is_not(None))
                .group_by(Case.stuck_reason)
            ).all()
            steps = session.execute(select(Step.status, func.count()).group_by(Step.status)).all()
            oldest = session.execute(
                select(func.min(Step.not_before)).where(
                    Step.status == StepStatus.PENDING.value, Step.not_before <= now
                )
            ).scalar()

        family = GaugeMetricFamily(
            "coopflow_cases", "Cases by process and state.", labels=["process", "state"]
        )
        for process, state, count in cases:
            family.add_metric([process, state], count)
        yield family

        family = GaugeMetricFamily(
            "coopflow_cases_stuck", "Stuck cases by reason (absent: none).", labels=["reason"]
        )
        for reason, count in stuck:
            family.add_metric([reason], count)
        yield family

        family = GaugeMetricFamily("coopflow_steps", "Step rows by status.", labels=["status"])
        counts = {status: count for status, count in steps}
        for status in StepStatus:
            family.add_metric([status.value], counts.get(status.value, 0))
        yield family

        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:  # SQLite gives naive UTC datetimes back
                oldest = oldest.replace(tzinfo=now.tzinfo)
            age = max((now - oldest).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "coopflow_oldest_pending_step_age_seconds",
            "How long the oldest due step has waited for a worker (0: none waits).",
            value=age,
        )
