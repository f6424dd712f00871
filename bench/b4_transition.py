"""B4: firing one trigger on PostgreSQL, commit and publish included.

Invitation cases waiting in ``created``; each is sent « invite » in its own transaction,
as the back-office does: row lock, guard, state change, audit event, the outbox step,
version, commit, then the step published to Redis. No worker runs: only the firing is
timed. Target: median ≤ 5 ms.
"""

from __future__ import annotations

import random
import statistics
import time

from bench.report import Figure, Report
from bench.seed import seed_coops
from bench.services import SECRET_KEY, flush_redis, postgres_database
from coopflow.config import Settings
from coopflow.runtime import build_runtime
from workflows.engine.engine import Actor

NAME = "B4"
SYSTEM = Actor.system("bench")


def run(report: Report, *, quick: bool = False) -> None:
    cases = 300 if quick else 2_000
    warmup = 50 if quick else 200
    with postgres_database("b4") as url:
        runtime = build_runtime(
            Settings(database_url=url, broker_url=flush_redis(), secret_key=SECRET_KEY)
        )
        try:
            coop_ids = seed_coops(runtime.db, cases, seed=report.seed)
            with runtime.engine.transaction() as tx:
                case_ids = [
                    tx.start("invitation", coop_id, actor=SYSTEM).id for coop_id in coop_ids
                ]
            random.Random(report.seed).shuffle(case_ids)
            timings = []
            for n, case_id in enumerate(case_ids):
                started = time.perf_counter()
                with runtime.engine.transaction() as tx:
                    tx.fire(case_id, "invite", actor=SYSTEM, comment="bench")
                if n >= warmup:
                    timings.append(time.perf_counter() - started)
        finally:
            runtime.stop()
            flush_redis()
    timings_ms = sorted(t * 1000 for t in timings)
    median = statistics.median(timings_ms)
    p95 = timings_ms[int(len(timings_ms) * 0.95)]
    report.add(
        Figure(NAME, "transition, médiane", median, "ms", ("<=", 5.0), notes=f"{len(timings)} tirs")
    )
    report.add(Figure(NAME, "transition, p95", p95, "ms"))
