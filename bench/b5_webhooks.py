"""B5: a burst of Swan webhooks. Swan delivers at least once, in no order, up to ten
minutes late; after a quiet night thousands arrive at once.

Distributed, as the Procfile runs it: gunicorn (2 processes × 4 threads), ``coopflow
worker`` and ``coopflow scheduler`` on PostgreSQL + Redis, Swan's sandbox. Each kyc case
gets its membership at the sandbox (the workers run ``request_identification``), then
its mandataire goes through Swan's page (the sandbox's ``simulate``): started, pieces
sent, then valid (most) or invalid. Every event Swan would send, plus 20 % sent twice,
shuffled, is posted at once by 16 clients. Figures: every answer a 200, the latency of
the answers (p50, p99; target p99 ≤ 1 s, a tenth of the 10 s Swan allows, with 16
clients against gunicorn's 8 threads on 2 cores beside the workers: the handler only
stores the event and queues its ``sync``), the time until every case settled, and each
case's final state exactly as if its events had come once and in order (no case moved
backwards).
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import func, select, update

from bench.report import Figure, Report
from bench.seed import seed_coops
from bench.services import (
    BIN,
    Processes,
    environment,
    flush_redis,
    free_port,
    postgres_database,
    wait_until,
)
from coopflow.config import Settings
from coopflow.runtime import build_runtime
from workflows.engine.engine import Actor
from workflows.models import Case, CaseEvent, Mandataire, Step, WebhookEvent
from workflows.processes.kyc.definition import PROGRESS

NAME = "B5"
SECRET = "bench-swan-webhook-secret"
SYSTEM = Actor.system("bench")
#: One case in this many is refused by Swan (its final state ``invalid``).
REFUSED_EVERY = 5
DUPLICATES = 0.20
CLIENTS = 16


def run(report: Report, *, quick: bool = False) -> None:
    events_wanted = 250 if quick else 1_000
    # Each case sends 3 events (started, pending, outcome); duplicates make up the rest.
    cases = max(1, round(events_wanted / (1 + DUPLICATES) / 3))
    with (
        postgres_database("b5") as url,
        TemporaryDirectory() as tmp,
        Processes(Path(tmp)) as processes,
    ):
        broker = flush_redis()
        settings = dict(swan_mode="sandbox", swan_webhook_secret=SECRET, scheduler_interval="1")
        env = environment(url, broker, **settings)
        port = free_port()
        processes.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "coopflow.app:create_app()",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
            ],
            env,
        )
        processes.start("worker", [str(BIN / "coopflow"), "worker"], env)
        processes.start("scheduler", [str(BIN / "coopflow"), "scheduler"], env)
        runtime = build_runtime(
            Settings(
                database_url=url,
                broker_url=broker,
                secret_key=env["COOPFLOW_SECRET_KEY"],
                swan_mode="sandbox",
                swan_webhook_secret=SECRET,
            )
        )
        try:
            case_ids = _kyc_cases(runtime, cases, report.seed)
            wait_until(lambda: _with_membership(runtime) >= cases, 300, "adhésions chez Swan")
            expected, events = _mandataires_at_swan(runtime, case_ids, report.seed)
            burst = _with_duplicates(events, report.seed, total=events_wanted)
            wait_until(lambda: _up(port), 60, "gunicorn prêt")
            started = time.perf_counter()
            answers = _post_all(port, burst)
            posted = time.perf_counter() - started
            wait_until(lambda: _settled(runtime, expected), 300, "dossiers à jour")
            settled = time.perf_counter() - started
            wrong = _final_states(runtime, expected)
            stored, backwards = _stored_and_backwards(runtime, case_ids)
        finally:
            runtime.stop()
            flush_redis()
    statuses = sorted({status for status, _ in answers})
    latencies = sorted(ms for _, ms in answers)
    assert statuses == [200], f"réponses autres que 200 : {statuses}"
    assert wrong == {}, f"dossiers dans un autre état que prévu : {wrong}"
    assert backwards == 0, f"{backwards} dossiers sont revenus en arrière"
    unique = len(events)
    assert stored == unique, (stored, unique)
    report.add(
        Figure(
            NAME,
            f"rafale de {len(burst)} événements Swan, p99",
            latencies[int(len(latencies) * 0.99) - 1],
            "ms",
            ("<=", 1000.0),
            notes=f"{len(burst) - unique} doublons, {CLIENTS} clients, tous 200",
        )
    )
    report.add(Figure(NAME, "rafale, médiane", latencies[len(latencies) // 2], "ms"))
    report.add(Figure(NAME, "rafale, débit", len(burst) / posted, "événements/s"))
    report.add(
        Figure(
            NAME,
            f"{len(case_ids)} dossiers à jour après la rafale",
            settled,
            "s",
            notes="état final identique à des événements reçus une fois, dans l'ordre",
        )
    )


def _kyc_cases(runtime: Any, count: int, seed: int) -> list[int]:
    """``count`` coops whose mandataire has an account, and their kyc case each."""
    coop_ids = seed_coops(runtime.db, count, seed=seed)
    with runtime.engine.transaction() as tx:
        tx.session.execute(
            update(Mandataire)
            .where(Mandataire.coop_id.in_(coop_ids))
            .values(password_hash="argon2-bench", password_set_at=tx.now)
        )
        return [tx.start("kyc", coop_id, actor=SYSTEM, trigger="start").id for coop_id in coop_ids]


def _with_membership(runtime: Any) -> int:
    with runtime.db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.process == "kyc", Case.data["membership_id"].as_string().is_not(None))
            )
            or 0
        )


def _mandataires_at_swan(
    runtime: Any, case_ids: list[int], seed: int
) -> tuple[dict[int, str], list[dict[str, Any]]]:
    """Each mandataire goes through Swan's page; returns the state each case must end
    in and the events Swan sends, in the order they happened."""
    rng = random.Random(seed)
    with runtime.db.read() as session:
        memberships = dict(
            session.execute(
                select(Case.id, Case.data["membership_id"].as_string()).where(Case.id.in_(case_ids))
            ).all()
        )
    expected: dict[int, str] = {}
    events: list[dict[str, Any]] = []
    for n, case_id in enumerate(case_ids):
        membership = memberships[case_id]
        refused = n % REFUSED_EVERY == 0
        events += runtime.swan.simulate(membership, "started")
        events += runtime.swan.simulate(membership, "pending")
        if refused:
            reason = rng.choice(["ExpiredDocument", "InsufficientDocumentReadability"])
            events += runtime.swan.simulate(membership, "invalid", reasons=(reason,))
        else:
            events += runtime.swan.simulate(membership, "valid")
        expected[case_id] = "invalid" if refused else "verified"
    return expected, events


def _with_duplicates(
    events: list[dict[str, Any]], seed: int, *, total: int
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    extra = max(0, total - len(events))
    burst = events + [rng.choice(events) for _ in range(extra)]
    rng.shuffle(burst)
    return burst


def _up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _post_all(port: int, burst: list[dict[str, Any]]) -> list[tuple[int, float]]:
    url = f"http://127.0.0.1:{port}/webhooks/swan"

    def post(event: dict[str, Any]) -> tuple[int, float]:
        request = urllib.request.Request(
            url,
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json", "x-swan-secret": SECRET},
            method="POST",
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                answer.read()
                status = answer.status
        except urllib.error.HTTPError as refused:
            status = refused.code
        return status, (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(post, burst))


def _settled(runtime: Any, expected: dict[int, str]) -> bool:
    with runtime.db.read() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(Step)
            .where(Step.case_id.in_(expected), Step.status.in_(("pending", "running")))
        )
    return pending == 0 and not _final_states(runtime, expected)


def _final_states(runtime: Any, expected: dict[int, str]) -> dict[int, tuple[str, str]]:
    with runtime.db.read() as session:
        states = dict(
            session.execute(select(Case.id, Case.state).where(Case.id.in_(expected))).all()
        )
    return {
        case_id: (states.get(case_id, "?"), wanted)
        for case_id, wanted in expected.items()
        if states.get(case_id) != wanted
    }


def _stored_and_backwards(runtime: Any, case_ids: list[int]) -> tuple[int, int]:
    """Swan events kept (once each), and cases whose history went to an earlier state."""
    with runtime.db.read() as session:
        stored = int(
            session.scalar(
                select(func.count()).select_from(WebhookEvent).where(WebhookEvent.source == "swan")
            )
            or 0
        )
        rows = session.execute(
            select(CaseEvent.case_id, CaseEvent.to_state)
            .where(CaseEvent.case_id.in_(case_ids))
            .order_by(CaseEvent.case_id, CaseEvent.id)
        ).all()
    backwards: set[int] = set()
    reached: dict[int, int] = {}
    for case_id, state in rows:
        rank = PROGRESS.get(state or "")
        if rank is None:
            continue
        if rank < reached.get(case_id, -1):
            backwards.add(case_id)
        reached[case_id] = max(rank, reached.get(case_id, -1))
    return stored, len(backwards)
