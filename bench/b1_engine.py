"""B1: the engine's overhead. The same three database writes per coop, done once by the
engine (a three-step process: step rows, claims, transitions, audit, outbox) and once
by three bare Dramatiq actors calling each other (the baseline), each with 2 worker
processes on PostgreSQL + Redis. Steps per second, from the first message sent (the
engine: the first case started) to the last write; the two take turns three times and
the medians are compared. Target: the engine reaches at least 0.7× the baseline's
throughput.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import func, select

from bench import pipeline
from bench.report import Figure, Report
from bench.seed import seed_coops
from bench.services import (
    BIN,
    SECRET_KEY,
    Processes,
    environment,
    flush_redis,
    free_port,
    postgres_database,
    wait_until,
)
from coopflow.config import Settings
from coopflow.runtime import build_runtime
from workers.broker import make_broker
from workflows.engine.db import Database
from workflows.engine.engine import Actor
from workflows.models import Case, Coop
from workflows.processes import DEFINITIONS

NAME = "B1"
PROCESSES = 2
THREADS = 4
BATCH = 500
ROUNDS = 3


def run(report: Report, *, quick: bool = False) -> None:
    """Baseline and engine take turns, ``ROUNDS`` times: the figures are the medians, so
    that a slow moment of the machine (shared cores) does not decide the ratio."""
    coops = 200 if quick else 2_000
    steps = 3 * coops
    baseline_runs, engine_runs = [], []
    for _ in range(1 if quick else ROUNDS):
        baseline_runs.append(steps / _baseline(coops, report.seed))
        engine_runs.append(steps / _engine(coops, report.seed))
    baseline, engine = statistics.median(baseline_runs), statistics.median(engine_runs)
    rounds = f"{steps} étapes, médiane de {len(engine_runs)} tours"
    report.add(
        Figure(
            NAME,
            "baseline (acteurs Dramatiq nus)",
            baseline,
            "étapes/s",
            notes=f"{rounds} : {_each(baseline_runs)}",
        )
    )
    report.add(
        Figure(
            NAME,
            "moteur coopflow",
            engine,
            "étapes/s",
            notes=f"{rounds} : {_each(engine_runs)}",
            baseline=baseline,
        )
    )
    report.add(Figure(NAME, "moteur / baseline", engine / baseline, "x", (">=", 0.7)))


def _each(runs: list[float]) -> str:
    return ", ".join(f"{r:.0f}" for r in runs)


def _workers(processes: Processes, module: str, queue: str, env: dict[str, str]) -> None:
    port = free_port()
    processes.start(
        module,
        [
            str(BIN / "dramatiq"),
            module,
            "--processes",
            str(PROCESSES),
            "--threads",
            str(THREADS),
            "--queues",
            queue,
        ],
        {**env, "dramatiq_prom_port": str(port), "dramatiq_prom_host": "127.0.0.1"},
    )
    time.sleep(0.5)


def _ready(broker_url: str) -> None:
    """Both worker processes consume (their heartbeats are in Redis)."""
    import redis

    client = redis.Redis.from_url(broker_url)
    wait_until(lambda: client.zcard("coopflow:__heartbeats__") >= PROCESSES, 60, "workers démarrés")
    client.close()


def _baseline(coops: int, seed: int) -> float:
    """Seconds for the bare actors to do every write."""
    with (
        postgres_database("b1_baseline") as url,
        TemporaryDirectory() as logs,
        Processes(Path(logs)) as processes,
    ):
        broker_url = flush_redis()
        db = Database(url)
        coop_ids = seed_coops(db, coops, seed=seed)
        _workers(
            processes, "bench.b1_baseline_worker", pipeline.QUEUE, environment(url, broker_url)
        )
        _ready(broker_url)
        broker = make_broker(broker_url)
        first = pipeline.declare_baseline(broker, db)
        started = time.perf_counter()
        for coop_id in coop_ids:
            first.send(coop_id)
        wait_until(lambda: _coops_done(db) == coops, 600, "baseline terminée")
        elapsed = time.perf_counter() - started
        broker.close()
        db.dispose()
    return elapsed


def _engine(coops: int, seed: int) -> float:
    """Seconds for the engine to take every case through its three steps."""
    with (
        postgres_database("b1_engine") as url,
        TemporaryDirectory() as logs,
        Processes(Path(logs)) as processes,
    ):
        broker_url = flush_redis()
        runtime = build_runtime(
            Settings(database_url=url, broker_url=broker_url, secret_key=SECRET_KEY),
            definitions={**DEFINITIONS, pipeline.NAME: pipeline.DEFINITION},
        )
        coop_ids = seed_coops(runtime.db, coops, seed=seed)
        _workers(processes, "bench.b1_engine_worker", "steps", environment(url, broker_url))
        _ready(broker_url)
        actor = Actor.system("bench")
        started = time.perf_counter()
        for chunk in range(0, coops, BATCH):
            # As an import starts its cases: a few batched statements per transaction.
            with runtime.engine.transaction() as tx:
                starts = [(coop_id, {}) for coop_id in coop_ids[chunk : chunk + BATCH]]
                tx.start_many(pipeline.NAME, starts, actor=actor, trigger="start")
        wait_until(lambda: _cases_done(runtime.db) == coops, 600, "moteur terminé")
        elapsed = time.perf_counter() - started
        assert _coops_done(runtime.db) == coops
        runtime.stop()
    return elapsed


def _coops_done(db: Database) -> int:
    with db.read() as session:
        return int(
            session.scalar(select(func.count()).select_from(Coop).where(Coop.phone == "etape-3"))
            or 0
        )


def _cases_done(db: Database) -> int:
    with db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.process == pipeline.NAME, Case.state == "done")
            )
            or 0
        )
