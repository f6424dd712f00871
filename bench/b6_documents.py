"""B6: the September wave of documents. 10,000 coops submit their affiliation and are
validated: 30,000 PDFs (each coop's *engagement du mandataire*, then its *attestation
d'adhésion* and *attestation d'assurance*) rendered and stored by the workers.

Two worker processes on the machine's two cores, on PostgreSQL. Target: the whole wave
in ≤ 5 minutes (≥ 100 documents/s), ≤ 300 MB of peak memory per worker.

Two drivers, one call apart (:data:`DRIVERS`):

- ``steps``, the real path: ``coopflow worker`` (2 processes × 4 threads, Redis), the
  cases submitted then validated through the engine by this process, the workers running
  ``render_commitment`` and ``render_attestations`` (a message carries up to 20 steps,
  a batch handler renders their documents together); timed from the first submission to
  the last attestation stored, the submissions and validations included;
- ``direct``: two processes (``bench.b6_worker``) calling ``workers.documents`` as those
  steps do, on cases already validated: the documents alone.

The baseline is the same documents rendered one WeasyPrint pass each
(``store_document``, same templates, same storage), by the same two processes, on a
sample (the full wave one by one would take half an hour): the ratio is of documents
per second.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import func, insert, select, update

from bench.report import Figure, Report
from bench.seed import NOW, ensure_ad, seed_coops
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
from coopflow.config import Settings
from coopflow.runtime import build_runtime
from workflows.engine.db import Database
from workflows.engine.engine import Actor
from workflows.models import Case, Coop, Document, Mandataire, PriceItem, StaffUser, Step
from workflows.processes.affiliation.fee import compute, price_list
from workflows.processes.affiliation.form import (
    COMMITMENT,
    PAYMENT,
    AffiliationForm,
    SchoolClass,
    payment_reference,
)
from workflows.processes.affiliation.validation import record_check

NAME = "B6"
YEAR = 2026
WORKERS = 2
#: Steps per message in the real path, and cases per ``store_documents`` call in the
#: direct one (the default ``COOPFLOW_STEP_BATCH``).
BATCH = 20
LEVELS = ("CP", "CE1", "CE2", "CM1", "CM2", "GS", "MS", "ULIS")
TEACHERS = ("Mme Martin", "M. Bernard", "Mme Dubois - M. Petit", "Mme Leroy", "M. Durand")
#: Seed 004's price list (the fee of its example is 136,99 €).
PRICES = (
    ("forfait", "forfait", "de la coopérative (forfait)", 800),
    ("eleve", "eleve", "des élèves", 173),
    ("enseignant", "enseignant", "des enseignants", 400),
    ("assurance_biens", "assurance", "Assurance des biens de la coopérative", 1250),
    ("abonnement_toto", "abonnement", "Abonnement à TOTO est content", 400),
)
KINDS = ("commitment", "attestation_adhesion", "attestation_assurance")


def run(report: Report, *, quick: bool = False) -> None:
    coops = 300 if quick else 10_000
    sample = 30 if quick else 300
    for driver in DRIVERS.values():
        driver(report, coops, sample)


# The real path: the steps in ``coopflow worker`` ------------------------------------------


def _through_steps(report: Report, coops: int, _sample: int) -> None:
    with (
        postgres_database("b6") as url,
        TemporaryDirectory() as tmp,
        Processes(Path(tmp)) as processes,
        SMTPSink() as smtp,
    ):
        broker = flush_redis()
        env = environment(url, broker, smtp_url=smtp.url, scheduler_interval="1")
        runtime = build_runtime(
            Settings(database_url=url, broker_url=broker, secret_key=SECRET_KEY, smtp_url=smtp.url)
        )
        try:
            coop_ids, staff = _coops_and_prices(runtime.db, coops, report.seed)
            worker = processes.start("worker", [str(BIN / "coopflow"), "worker"], env)
            processes.start("scheduler", [str(BIN / "coopflow"), "scheduler"], env)
            case_ids = _opened(runtime, coop_ids)
            wait_until(lambda: _opened_count(runtime) >= coops, 600, "adhésions ouvertes")
            started = time.perf_counter()
            _submit_all(runtime, case_ids, report.seed)
            wait_until(
                lambda: (
                    _in_state(runtime, "awaiting_validation") >= coops
                    or _documents(runtime.db) >= coops
                ),
                1800,
                "engagements rendus",
            )
            _validate_all(runtime, case_ids, staff)
            wait_until(
                lambda: _documents(runtime.db, runtime) >= 3 * coops, 1800, "attestations rendues"
            )
            total = time.perf_counter() - started
            members = [pid for pid in group_members(worker.pid) if pid != worker.pid]
            peaks = [peak_rss_mb(pid) for pid in members]
            _check_documents(runtime.db, 3 * coops)
        finally:
            runtime.stop()
            flush_redis()
    _figures(report, "par les étapes", 3 * coops, total, peaks)


def _opened(runtime: Any, coop_ids: list[int]) -> list[int]:
    system = Actor.system("bench")
    ids: list[int] = []
    for start in range(0, len(coop_ids), 1000):
        with runtime.engine.transaction() as tx:
            cases = tx.start_many(
                "affiliation",
                [(c, {}) for c in coop_ids[start : start + 1000]],
                actor=system,
                school_year=YEAR,
            )
            tx.session.flush()
            ids += [c.id for c in cases]
    return ids


def _opened_count(runtime: Any) -> int:
    with runtime.db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.process == "affiliation", Case.data["opened"].as_boolean().is_(True))
            )
            or 0
        )


def _submit_all(runtime: Any, case_ids: list[int], seed: int) -> None:
    """Each mandataire sends the form (as ``web.portal.affiliation.submit`` does)."""
    rng = random.Random(seed)
    for case_id in case_ids:
        with runtime.engine.transaction() as tx:
            case = tx.lock(case_id)
            prices = price_list(tx.session, case.ad_id, YEAR)
            form = _form(rng)
            fee = compute(prices, form)
            coop = case.coop
            person = tx.session.scalars(
                select(Mandataire).where(Mandataire.coop_id == coop.id)
            ).first()
            case.data = {
                **(case.data or {}),
                "form": form.to_data(),
                "fee": fee.to_data(),
                "reference": payment_reference(YEAR, coop.affiliation_number),
            }
            tx.fire(case_id, "submit", actor=Actor.mandataire(person))


def _validate_all(runtime: Any, case_ids: list[int], staff_id: int) -> None:
    """The AD's staff check the payment and the signed commitment: validated."""
    for case_id in case_ids:
        with runtime.engine.transaction() as tx:
            actor = Actor.staff(tx.session.get(StaffUser, staff_id))
            case = tx.lock(case_id)
            total = int(case.data["fee"]["total_cents"])
            details = {
                "amount_cents": total,
                "received_on": date(2026, 9, 18),
                "reference": case.data["reference"],
                "source": "manual",
            }
            record_check(tx, case_id, PAYMENT, actor, details)
            record_check(tx, case_id, COMMITMENT, actor, {})


def _no_failure(runtime: Any) -> None:
    """A document step that failed fails the benchmark at once, with its error."""
    with runtime.db.read() as session:
        error = session.scalar(
            select(Step.last_error)
            .where(
                Step.name.in_(("render_commitment", "render_attestations")),
                Step.last_error.is_not(None),
            )
            .limit(1)
        )
    if error:
        raise RuntimeError(f"une étape de documents a échoué : {error}")


def _in_state(runtime: Any, state: str) -> int:
    _no_failure(runtime)
    with runtime.db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.process == "affiliation", Case.state == state)
            )
            or 0
        )


# The documents alone: ``bench.b6_worker`` -------------------------------------------------


def _direct(report: Report, coops: int, sample: int) -> None:
    with postgres_database("b6") as url:
        db = Database(url)
        try:
            coop_ids, _staff = _coops_and_prices(db, coops, report.seed)
            _validated_cases(db, coop_ids, report.seed)
            total, peaks = _workers(url, "batch")
            _check_documents(db, 3 * coops)
            _figures(report, "direct", 3 * coops, total, peaks)
            with db.write() as session:  # the baseline on a sample of the same cases
                session.execute(Document.__table__.delete())
                kept = select(Case.id).order_by(Case.id).limit(sample).scalar_subquery()
                session.execute(Case.__table__.delete().where(Case.id.not_in(kept)))
            single, single_peaks = _workers(url, "single")
            _check_documents(db, 3 * sample)
        finally:
            db.dispose()
    batch_rate, single_rate = 3 * coops / total, 3 * sample / single
    report.add(
        Figure(
            NAME,
            f"référence : un rendu WeasyPrint par document ({3 * sample} documents)",
            single_rate,
            "documents/s",
            notes=f"{single:.1f} s, pointe {max(single_peaks):.0f} Mo par worker",
        )
    )
    report.add(
        Figure(
            NAME,
            "documents par seconde, en lot (direct) / un par un",
            batch_rate,
            "documents/s",
            baseline=single_rate,
        )
    )


def _workers(url: str, mode: str) -> tuple[float, list[float]]:
    """The wave run by :data:`WORKERS` processes: its time, and each one's peak memory."""
    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.b6_worker", url, mode, str(n), str(WORKERS), str(BATCH)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    peaks = []
    for child in children:
        out, _ = child.communicate(timeout=3600)
        if child.returncode != 0:
            raise RuntimeError(f"bench.b6_worker a échoué ({child.returncode})")
        lines = [line for line in out.splitlines() if line.startswith("peak_rss_mb=")]
        if not lines:
            raise RuntimeError("bench.b6_worker n'a pas donné sa mémoire de pointe")
        peaks.append(float(lines[-1].split("=")[1]))
    return time.perf_counter() - started, peaks


#: Which drivers B6 runs, in order; the steps' is the real path.
DRIVERS = {"steps": _through_steps, "direct": _direct}


# Shared -------------------------------------------------------------------------------


def _form(rng: random.Random) -> AffiliationForm:
    classes = [
        SchoolClass(level, rng.choice(TEACHERS), rng.randint(1, 2), rng.randint(12, 28))
        for level in rng.sample(LEVELS, rng.randint(2, 7))
    ]
    options = ["abonnement_toto"] + (["assurance_biens"] if rng.random() < 0.3 else [])
    return AffiliationForm(classes=classes, options=options)


def _coops_and_prices(db: Database, count: int, seed: int) -> tuple[list[int], int]:
    """``count`` coops of AD06 whose mandataire has an account, the AD's price list for
    the year, and a staff member of the AD (its id)."""
    coop_ids = seed_coops(db, count, seed=seed)
    ad_id = ensure_ad(db)
    with db.write() as session:
        session.execute(
            update(Mandataire)
            .where(Mandataire.coop_id.in_(coop_ids))
            .values(password_hash="argon2-bench", password_set_at=NOW)
        )
        session.execute(
            insert(PriceItem),
            [
                {
                    "ad_id": ad_id,
                    "school_year": YEAR,
                    "code": code,
                    "kind": kind,
                    "label": label,
                    "price_cents": cents,
                    "position": n,
                }
                for n, (code, kind, label, cents) in enumerate(PRICES)
            ],
        )
        staff = StaffUser(
            email="equipe06@bench.occe.coop",
            full_name="Équipe OCCE 06",
            role="ad",
            ad_id=ad_id,
            password_hash="argon2-bench",
        )
        session.add(staff)
        session.flush()
        return coop_ids, staff.id


def _validated_cases(db: Database, coop_ids: list[int], seed: int) -> None:
    """Each coop's affiliation, as its validation leaves it (inserted in bulk)."""
    rng = random.Random(seed)
    ad_id = ensure_ad(db)
    with db.read() as session:
        prices = price_list(session, ad_id, YEAR)
        numbers = dict(session.execute(select(Coop.id, Coop.affiliation_number)).tuples().all())
        names = {
            m.coop_id: m.full_name
            for m in session.scalars(select(Mandataire).where(Mandataire.coop_id.in_(coop_ids)))
        }
    rows = []
    for coop_id in coop_ids:
        form = _form(rng)
        fee = compute(prices, form)
        reference = payment_reference(YEAR, numbers[coop_id])
        rows.append(
            {
                "process": "affiliation",
                "school_year": YEAR,
                "coop_id": coop_id,
                "ad_id": ad_id,
                "state": "validated",
                "data": {
                    "form": form.to_data(),
                    "fee": fee.to_data(),
                    "reference": reference,
                    "mandataire_name": names[coop_id],
                    "checks": {
                        "payment": {
                            "amount_cents": fee.total_cents,
                            "received_on": "2026-09-18",
                            "reference": reference,
                        }
                    },
                },
                "created_at": NOW,
                "updated_at": NOW,
                "state_entered_at": NOW,
            }
        )
    for start in range(0, len(rows), 2000):
        with db.write() as session:
            session.execute(insert(Case), rows[start : start + 2000])


def _documents(db: Database, runtime: Any = None) -> int:
    if runtime is not None:
        _no_failure(runtime)
    with db.read() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Document).where(Document.kind.in_(KINDS))
            )
            or 0
        )


def _check_documents(db: Database, expected: int) -> None:
    """Every document stored once, a PDF whose hash is its own."""
    with db.read() as session:
        count, distinct, small = session.execute(
            select(
                func.count(),
                func.count(func.distinct(Document.sha256)),
                func.min(Document.size),
            ).where(Document.kind.in_(KINDS))
        ).one()
        head = session.scalar(
            select(func.substr(Document.content, 1, 5)).where(Document.kind.in_(KINDS)).limit(1)
        )
    assert count == expected, (count, expected)
    assert distinct == expected, f"{expected - distinct} documents identiques"
    assert head == b"%PDF-" and small > 1000, (head, small)


def _figures(report: Report, how: str, documents: int, total: float, peaks: list[float]) -> None:
    # The steps' workers: dramatiq's two processes, and the metrics exporter it forks.
    if len(peaks) < WORKERS or min(peaks) <= 0:
        raise RuntimeError(f"mémoire de pointe des workers illisible : {peaks}")
    report.add(
        Figure(
            NAME,
            f"vague de septembre, {documents:_} documents ({how})".replace("_", " "),
            total,
            "s",
            ("<=", 300.0) if documents >= 30_000 else None,
            notes=f"{WORKERS} workers",
        )
    )
    report.add(
        Figure(
            NAME, f"documents par seconde ({how})", documents / total, "documents/s", (">=", 100.0)
        )
    )
    report.add(
        Figure(NAME, f"mémoire de pointe par worker ({how})", max(peaks), "Mo", ("<=", 300.0))
    )
