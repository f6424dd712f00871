"""B6: the September wave of documents. 10,000 coops submit their affiliation and are
validated: 30,000 PDFs (each coop's *engagement du mandataire*, then its *attestation
d'adhésion* and *attestation d'assurance*) rendered and stored by the workers.

Two worker processes on the machine's two cores, on PostgreSQL. Target: the whole wave
in ≤ 5 minutes (≥ 100 documents/s), ≤ 300 MB of peak memory per worker.

Two drivers, one call apart (:data:`DRIVERS`):

- ``steps``, the real path: ``coopflow worker`` (2 processes × 4 threads, Redis), the
  cases submitted then validated through the engine by this process, the workers running
  ``render_commitment`` and ``render_attestations`` (a message carries up to 20 steps,
  a batch handler renders their documents together, the validation's email sent
  beside them); the workers timed from the submissions queued to the last commitment
  stored, then from the validations queued to the last attestation stored. The
  people's 20,000 actions are made while the workers are paused, and timed apart: in
  September they come over weeks, not in the five minutes of the workers' wave (made
  at once on the same two cores, they took a third of the CPU from the workers);
- ``direct``: two processes (``bench.b6_worker``) calling ``workers.documents`` as those
  steps do, on cases already validated: the documents alone.

The baseline is the same documents rendered one WeasyPrint pass each
(``store_document``, same templates, same storage), by the same two processes, on a
sample (the full wave one by one would take half an hour): the ratio is of documents
per second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import func, select

from bench.b6_people import (
    USERS,
    in_parallel,
    opened,
    opened_count,
    submit_all,
    validate_all,
)
from bench.b6_seed import (
    check_documents,
    coops_and_prices,
    stored,
    validated_cases,
)
from bench.report import Figure, Report
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
from workflows.models import Case, Document, Step

NAME = "B6"
WORKERS = 2
#: Steps per message in the real path, and cases per ``store_documents`` call in the
#: direct one (the default ``COOPFLOW_STEP_BATCH``).
BATCH = 20
#: How often the wave's end is looked for: its counts read the steps and documents of
#: the database under test (every 50 ms, they took a tenth of a core from the wave).
POLL = 0.25


def run(report: Report, *, quick: bool = False) -> None:
    coops = 300 if quick else 10_000
    sample = 30 if quick else 300
    for driver in DRIVERS.values():
        driver(report, coops, sample)


# The real path: the steps in ``coopflow worker`` ------------------------------------------


def _through_steps(report: Report, coops: int, _sample: int) -> None:
    """The workers' wave: the submissions made (the workers paused), the workers
    resumed and timed until every commitment is stored; the validations made (paused
    again), the workers timed until every attestation is stored. The people's actions
    are timed apart: in September they come over weeks, and made here at once on the
    same two cores they take a third of the machine from the workers."""
    times, peaks = _wave(report, coops, pause=True)
    total = times["engagements"] + times["attestations"]
    phases = (
        f"engagements {times['engagements']:.0f} s, "
        f"attestations et emails {times['attestations']:.0f} s"
    )
    _figures(report, "par les étapes", 3 * coops, total, peaks, phases)
    report.add(
        Figure(
            NAME,
            f"actions des personnes, {2 * coops:_} (envois puis validations, "
            f"{USERS} à la fois, workers en pause)".replace("_", " "),
            times["envois"] + times["validations"],
            "s",
            notes=f"envois {times['envois']:.0f} s, validations {times['validations']:.0f} s",
        )
    )


def _together(report: Report, coops: int, _sample: int) -> None:
    """The same wave with the people acting while the workers run, on the same two
    cores: timed from the first submission to the last attestation stored. Reported,
    not judged (the people of a September do not act within five minutes)."""
    times, _peaks = _wave(report, coops, pause=False)
    report.add(
        Figure(
            NAME,
            f"vague avec les {2 * coops:_} actions des personnes en même temps".replace("_", " "),
            sum(times.values()),
            "s",
            notes=(
                f"envois {times['envois']:.0f} s, engagements {times['engagements']:.0f} s "
                f"de plus, validations {times['validations']:.0f} s, attestations "
                f"{times['attestations']:.0f} s de plus"
            ),
        )
    )


def _wave(report: Report, coops: int, *, pause: bool) -> tuple[dict[str, float], list[float]]:
    """Each phase's time (``envois``, ``engagements``: until the last commitment after
    them, ``validations``, ``attestations``: until the last after them) and each
    worker process's peak memory; with ``pause``, the workers stopped while people act."""
    times: dict[str, float] = {}
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
            coop_ids, staff = coops_and_prices(runtime.db, coops, report.seed)
            worker = processes.start("worker", [str(BIN / "coopflow"), "worker"], env)
            processes.start("scheduler", [str(BIN / "coopflow"), "scheduler"], env)
            case_ids = opened(runtime, coop_ids)
            wait_until(lambda: opened_count(runtime) >= coops, 600, "adhésions ouvertes")
            people = _paused(worker.pid) if pause else nullcontext()
            with _timed(times, "envois"), people:
                in_parallel(lambda ids: submit_all(runtime, ids, report.seed), case_ids)
            with _timed(times, "engagements"):
                # Every case awaiting validation: its commitment stored and its step
                # completed (a validation before the completion would be refused).
                wait_until(
                    lambda: _in_state(runtime, "awaiting_validation") >= coops,
                    1800,
                    "engagements rendus",
                    every=POLL,
                )
            people = _paused(worker.pid) if pause else nullcontext()
            with _timed(times, "validations"), people:
                in_parallel(lambda ids: validate_all(runtime, ids, staff), case_ids)
            with _timed(times, "attestations"):
                wait_until(
                    lambda: smtp.count >= coops and _stored(runtime) >= 3 * coops,
                    1800,
                    "attestations rendues et emails reçus",
                    every=POLL,
                )
            members = [pid for pid in group_members(worker.pid) if pid != worker.pid]
            peaks = [peak_rss_mb(pid) for pid in members]
            check_documents(runtime.db, 3 * coops)
        finally:
            runtime.stop()
            flush_redis()
    return times, peaks


@contextmanager
def _timed(times: dict[str, float], phase: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    times[phase] = time.perf_counter() - started


@contextmanager
def _paused(group: int) -> Iterator[None]:
    """The worker's processes stopped (``SIGSTOP`` to its process group) while the
    people act, resumed after: what the people queue then waits for them."""
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


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


def _stored(runtime: Any) -> int:
    _no_failure(runtime)
    return stored(runtime.db)


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
            coop_ids, _staff = coops_and_prices(db, coops, report.seed)
            validated_cases(db, coop_ids, report.seed)
            total, peaks = _workers(url, "batch")
            check_documents(db, 3 * coops)
            _figures(report, "direct", 3 * coops, total, peaks)
            with db.write() as session:  # the baseline on a sample of the same cases
                session.execute(Document.__table__.delete())
                kept = select(Case.id).order_by(Case.id).limit(sample).scalar_subquery()
                session.execute(Case.__table__.delete().where(Case.id.not_in(kept)))
            single, single_peaks = _workers(url, "single")
            check_documents(db, 3 * sample)
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
DRIVERS = {"steps": _through_steps, "together": _together, "direct": _direct}


def _figures(
    report: Report, how: str, documents: int, total: float, peaks: list[float], phases: str = ""
) -> None:
    # The steps' workers: dramatiq's two processes, and the metrics exporter it forks.
    # A quick run (fewer documents) is a smoke run: it judges nothing against the
    # full-size targets (the skeletons' first layouts dominate it).
    full = documents >= 30_000
    if len(peaks) < WORKERS or min(peaks) <= 0:
        raise RuntimeError(f"mémoire de pointe des workers illisible : {peaks}")
    report.add(
        Figure(
            NAME,
            f"vague de septembre, {documents:_} documents ({how})".replace("_", " "),
            total,
            "s",
            ("<=", 300.0) if full else None,
            notes=f"{WORKERS} workers" + (f" ; {phases}" if phases else ""),
        )
    )
    report.add(
        Figure(
            NAME,
            f"documents par seconde ({how})",
            documents / total,
            "documents/s",
            (">=", 100.0) if full else None,
        )
    )
    report.add(
        Figure(
            NAME,
            f"mémoire de pointe par worker ({how})",
            max(peaks),
            "Mo",
            ("<=", 300.0) if full else None,
        )
    )
