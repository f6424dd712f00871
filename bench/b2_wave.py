"""B2: the September wave. An AD imports 10,000 coops from a CSV file with « inviter »,
and the 10,000 invitation emails reach an SMTP server on loopback.

Distributed, as the Procfile runs it: ``coopflow import-coops --invite`` (a process),
``coopflow worker`` (2 processes × 4 threads, the defaults) and ``coopflow scheduler``,
on PostgreSQL + Redis. Timed from the start of the import to the last email received,
everything included. Target: ≤ 60 s on this 2-core machine; peak memory of each worker
process ≤ 150 MB. Also on the embedded default (SQLite, in-process worker) at 1,000 coops.
"""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.report import Figure, Report
from bench.seed import FIRST_NAMES, LAST_NAMES, ensure_ad
from bench.services import (
    BIN,
    SECRET_KEY,
    Processes,
    SMTPSink,
    environment,
    flush_redis,
    group_members,
    peak_rss_mb,
    postgres_database,
    wait_until,
)
from coopflow import db_migrations
from coopflow.config import Settings
from coopflow.runtime import build_runtime
from workflows.coop_import import import_coops
from workflows.engine.db import Database
from workflows.engine.engine import Actor
from workflows.models import AD

NAME = "B2"
HEADER = (
    "numero_affiliation;nom_cooperative;ecole;adresse;code_postal;commune;email_ecole;"
    "prenom_mandataire;nom_mandataire;email_mandataire"
)
TOWNS = ("Nice", "Antibes", "Cannes", "Grasse", "Menton", "Vence", "Cagnes-sur-Mer")


def coops_csv(count: int, seed: int) -> bytes:
    """An AD's export: ``count`` coops with accents, as a spreadsheet writes them."""
    rng = random.Random(seed)
    lines = [HEADER]
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        town = rng.choice(TOWNS)
        lines.append(
            f"06{i:05d}W;Coopérative scolaire {i};École élémentaire {last} {i};"
            f"{rng.randint(1, 150)} avenue de la Libération;06{rng.randint(0, 999):03d};{town};"
            f"ce.06{i:05d}w@ac-nice.fr;{first};{last};{first.lower()}.{last.lower()}{i}@ac-nice.fr"
        )
    return ("\n".join(lines) + "\n").encode()


def run(report: Report, *, quick: bool = False) -> None:
    _distributed(report, 1_000 if quick else 10_000)
    _embedded(report, 200 if quick else 1_000)


def _distributed(report: Report, count: int) -> None:
    with (
        postgres_database("b2") as url,
        TemporaryDirectory() as tmp,
        Processes(Path(tmp)) as processes,
        SMTPSink() as smtp,
    ):
        db = Database(url)
        ensure_ad(db)
        db.dispose()
        path = Path(tmp) / "coops.csv"
        path.write_bytes(coops_csv(count, report.seed))
        env = environment(url, flush_redis(), smtp_url=smtp.url, scheduler_interval="1")
        worker = processes.start("worker", [str(BIN / "coopflow"), "worker"], env)
        processes.start("scheduler", [str(BIN / "coopflow"), "scheduler"], env)
        time.sleep(3)  # the workers boot (imports, broker connection) before the wave
        started = time.perf_counter()
        imported = subprocess.run(
            [str(BIN / "coopflow"), "import-coops", str(path), "--ad", "AD06", "--invite"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        import_seconds = time.perf_counter() - started
        assert f"{count} invitations envoyées" in imported.stdout, imported.stdout
        wait_until(lambda: smtp.count >= count, 600, f"{count} emails reçus")
        total = time.perf_counter() - started
        members = [pid for pid in group_members(worker.pid) if pid != worker.pid]
        peak = max((peak_rss_mb(pid) for pid in members), default=0.0)
        assert smtp.count == count and len(smtp.recipients) == count, (smtp.count, count)
    report.add(
        Figure(
            NAME,
            f"vague de septembre, {count:_} coops (PostgreSQL + Redis)".replace("_", " "),
            total,
            "s",
            ("<=", 60.0) if count >= 10_000 else None,
            notes=f"dont import {import_seconds:.1f} s",
        )
    )
    report.add(Figure(NAME, "emails par seconde", count / total, "emails/s"))
    report.add(Figure(NAME, "mémoire de pointe par worker", peak, "Mo", ("<=", 150.0)))


def _embedded(report: Report, count: int) -> None:
    with TemporaryDirectory() as tmp, SMTPSink() as smtp:
        url = f"sqlite:///{tmp}/coopflow.sqlite3"
        db_migrations.upgrade(url)
        runtime = build_runtime(
            Settings(database_url=url, smtp_url=smtp.url, secret_key=SECRET_KEY)
        )
        try:
            ensure_ad(runtime.db)
            runtime.start_worker()
            content = coops_csv(count, report.seed)
            started = time.perf_counter()
            with runtime.engine.transaction() as tx:
                ad = tx.session.query(AD).filter_by(code="AD06").one()
                done = import_coops(tx, ad, content, invite=True, actor=Actor.system("bench"))
            assert done.invited == count, done.summary()
            wait_until(lambda: smtp.count >= count, 600, f"{count} emails reçus")
            total = time.perf_counter() - started
        finally:
            runtime.stop()
    report.add(
        Figure(
            NAME,
            f"vague de septembre, {count:_} coops (intégré, SQLite)".replace("_", " "),
            total,
            "s",
        )
    )
