"""One scenario's system: the processes of the Procfile (workers, schedulers, gunicorn)
against the suite's servers and mail server, and the counts the assertions read."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, pool, text
from sqlalchemy.exc import DBAPIError

from coopflow.config import PROJECT_ROOT
from tests.faults.mail_server import FaultySMTPServer, RelayReports
from tests.faults.servers import PostgresServer, RedisServer, wait_until
from tests.smtp import _free_port

COOPFLOW = str(Path(sys.executable).with_name("coopflow"))
CASES = 500
RESULTS = PROJECT_ROOT / "test-results" / "faults.jsonl"
SECRET_KEY = "fault-injection-secret-key-not-for-production"
RELAY_SECRET = "fault-injection-relay-secret"
#: Shortened for the suite (production: 900 s): how long the step of an email a killed
#: worker may have handed over waits for the relay's report before sending it again.
MAIL_REPORT_WAIT = 20
STAFF_EMAIL = "equipe.nationale@occe.coop"
#: Shortened for the suite (production: 120 s, 300 s, 10 s, 600 s): a killed worker's
#: step is taken over after STEP_LEASE, a lost message republished after PUBLISH_LEASE.
STEP_LEASE = 8
PUBLISH_LEASE = 10
#: Backoff 0.5 s, 1 s, 2 s, 2 s: the 5 attempts of a step are over within seconds.
BACKOFF, BACKOFF_MAX = 0.5, 2
#: Worker groups (``coopflow worker``), each one Dramatiq process with this many threads.
WORKER_GROUPS, WORKER_THREADS = 2, 4
SCHEDULERS, SCHEDULER_INTERVAL = 2, 0.5
#: The fault is injected once this many cases are finished: in the middle of the run.
FAULT_AT = 150


# The cluster ---------------------------------------------------------------------------


def _env(database_url: str, broker_url: str, smtp_url: str | None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COOPFLOW_")}
    env = {
        **clean,
        "COOPFLOW_DATABASE_URL": database_url,
        "COOPFLOW_BROKER_URL": broker_url,
        "COOPFLOW_SECRET_KEY": SECRET_KEY,
        "COOPFLOW_BASE_URL": "http://coopflow.test",
        "COOPFLOW_SCHEDULER_INTERVAL": str(SCHEDULER_INTERVAL),
        "COOPFLOW_STEP_LEASE_SECONDS": str(STEP_LEASE),
        "COOPFLOW_STEP_PUBLISH_LEASE_SECONDS": str(PUBLISH_LEASE),
        "COOPFLOW_STEP_BACKOFF_SECONDS": str(BACKOFF),
        "COOPFLOW_STEP_BACKOFF_MAX_SECONDS": str(BACKOFF_MAX),
        "COOPFLOW_MAIL_WEBHOOK_SECRET": RELAY_SECRET,
        "COOPFLOW_MAIL_REPORT_WAIT_SECONDS": str(MAIL_REPORT_WAIT),
        "COOPFLOW_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    if smtp_url:
        env["COOPFLOW_SMTP_URL"] = smtp_url
    return env


@dataclass
class Figures:
    """What a scenario reports: one line printed, one JSON line in RESULTS."""

    scenario: str
    cases: int
    finished: int
    lost: int
    duplicated: int
    resent: int
    recovery_seconds: float
    finished_at_fault: int
    extra: dict[str, Any] = field(default_factory=dict)

    def report(self) -> None:
        line = (
            f"[fault] {self.scenario}: cases={self.cases} finished={self.finished} "
            f"lost={self.lost} duplicated={self.duplicated} resent={self.resent} "
            f"recovery={self.recovery_seconds:.1f}s (fault at {self.finished_at_fault} finished)"
            + "".join(f" {k}={v}" for k, v in self.extra.items())
        )
        print(line)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "at": datetime.now().astimezone().isoformat(timespec="seconds"),
            **{k: v for k, v in self.__dict__.items() if k != "extra"},
            **self.extra,
        }
        with RESULTS.open("a") as out:
            out.write(json.dumps(record) + "\n")


class Cluster:
    """One scenario's processes and servers, and the counts the assertions read."""

    def __init__(
        self,
        name: str,
        database: str,
        postgres: PostgresServer,
        redis_server: RedisServer,
        workdir: Path,
    ) -> None:
        self.name = name
        self.database = database
        self.postgres = postgres
        self.redis = redis_server
        self.workdir = workdir
        self.smtp = FaultySMTPServer()
        self.smtp.start()
        self.env = _env(postgres.url(database), redis_server.url, self.smtp.url)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.schedulers: list[subprocess.Popen[bytes]] = []
        #: The Prometheus port of each worker group (Dramatiq's exposition server).
        self.metrics_ports: list[int] = []
        self.webs: list[subprocess.Popen[bytes]] = []
        self.web_url = ""
        self._spawned = 0
        self.db = create_engine(postgres.url(database), poolclass=pool.NullPool)
        self.recipients = [f"mandataire.{i:04d}@ac-nice.fr" for i in range(CASES)]

    # Processes

    def _spawn(
        self,
        kind: str,
        *args: str,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> subprocess.Popen[bytes]:
        self._spawned += 1
        log = self.workdir / f"{self._spawned:02d}-{kind}.log"
        with log.open("wb") as out:
            return subprocess.Popen(
                command or [COOPFLOW, *args],
                env={**self.env, **(env or {})},
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as a whole
            )

    def start_worker(self) -> subprocess.Popen[bytes]:
        """A ``coopflow worker`` group, with its own Prometheus port and metric files
        (two groups on one machine, as the README says)."""
        port = _free_port()
        metrics = {
            "dramatiq_prom_port": str(port),
            "dramatiq_prom_host": "127.0.0.1",
            "dramatiq_prom_db": str(self.workdir / f"prometheus-{self._spawned + 1:02d}"),
        }
        process = self._spawn(
            "worker", "worker", "--processes", "1", "--threads", str(WORKER_THREADS), env=metrics
        )
        self.workers.append(process)
        self.metrics_ports.append(port)
        return process

    def start_web(self) -> str:
        """The Procfile's ``web`` (gunicorn, one process here): its address."""
        port = _free_port()
        self.webs.append(
            self._spawn(
                "web",
                env={"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"},
                command=[
                    str(Path(sys.executable).with_name("gunicorn")),
                    "coopflow.app:create_app()",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--threads",
                    "2",
                    "--chdir",
                    str(PROJECT_ROOT),
                ],
            )
        )
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: self.web_status(url) is not None, 30, "gunicorn did not start")
        return url

    @staticmethod
    def web_status(url: str, path: str = "/readyz") -> int | None:
        """The status ``path`` answers, ``None`` when nothing listens."""
        try:
            with urllib.request.urlopen(url + path, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            return int(refused.code)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def scrape_workers(self) -> str:
        """What Prometheus would read from every worker group started so far."""
        pages = []
        for port in self.metrics_ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                pages.append(answer.read().decode())
        return "\n".join(pages)

    def start_scheduler(self) -> subprocess.Popen[bytes]:
        process = self._spawn("scheduler", "scheduler")
        self.schedulers.append(process)
        return process

    def start(self) -> None:
        """The web (which receives the relay's reports), the workers, the schedulers."""
        self.web_url = self.start_web()
        self.smtp.reports = RelayReports(self.web_url, RELAY_SECRET)
        for _ in range(WORKER_GROUPS):
            self.start_worker()
        for _ in range(SCHEDULERS):
            self.start_scheduler()

    def kill_workers(self) -> int:
        """``kill -9`` of every worker group (the ``dramatiq`` parent and its children)."""
        killed = 0
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
                killed += 1
        self.workers = []
        return killed

    def stop(self) -> None:
        for process in self.workers + self.schedulers + self.webs:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers + self.schedulers + self.webs:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.smtp.stop()
        self.db.dispose()

    def assert_running(self) -> None:
        for process in self.workers + self.schedulers + self.webs:
            assert process.poll() is None, f"{process.args} exited: see {self.workdir}"

    # The run

    def import_coops(self) -> float:
        """``coopflow import-coops --invite`` of CASES coops; returns its duration."""
        lines = [
            "numero_affiliation;nom_cooperative;ecole;email_ecole;prenom_mandataire;"
            "nom_mandataire;email_mandataire"
        ]
        for i, address in enumerate(self.recipients):
            lines.append(
                f"06{i:05d}F;Coop {i};École {i};ce.06{i:05d}@ac-nice.fr;Camille;Martin{i};{address}"
            )
        path = self.workdir / "coops.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        started = time.monotonic()
        done = subprocess.run(
            [COOPFLOW, "import-coops", str(path), "--ad", "AD06", "--invite"],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        assert f"{CASES} invitations envoyées" in done.stdout, done.stdout
        return time.monotonic() - started

    def query(self, sql: str, **params: Any) -> list[Any]:
        """Rows of ``sql``, or ``[]`` while the database is unreachable (restarting)."""
        try:
            with self.db.connect() as conn:
                return list(conn.execute(text(sql), params))
        except DBAPIError:
            return []

    def scalar(self, sql: str, **params: Any) -> Any:
        rows = self.query(sql, **params)
        return rows[0][0] if rows else None

    def finished(self) -> int:
        return (
            self.scalar(
                "SELECT count(*) FROM cases WHERE process = 'invitation' AND state = 'invited'"
            )
            or 0
        )

    def stuck(self) -> int:
        return (
            self.scalar(
                "SELECT count(*) FROM cases WHERE process = 'invitation' "
                "AND stuck_reason = 'step_failed'"
            )
            or 0
        )

    def last_finished_at(self) -> float:
        """Wall-clock time the last case entered ``invited`` (from the database)."""
        value = self.scalar(
            "SELECT extract(epoch FROM max(state_entered_at)) FROM cases "
            "WHERE process = 'invitation' AND state = 'invited'"
        )
        return float(value)

    def describe(self) -> str:
        states = self.query(
            "SELECT state, coalesce(stuck_reason, ''), count(*) FROM cases GROUP BY 1, 2"
        )
        steps = self.query("SELECT status, count(*) FROM steps GROUP BY 1")
        emails = self.query("SELECT status, count(*) FROM emails GROUP BY 1")
        reports = self.smtp.reports.posted if self.smtp.reports else 0
        return (
            f"{self.name}: cases {sorted(map(tuple, states))}, steps {sorted(map(tuple, steps))},"
            f" emails {sorted(map(tuple, emails))}, smtp {len(self.smtp.messages)} messages,"
            f" {reports} reports posted; logs in {self.workdir}"
        )

    def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        return wait_until(predicate, timeout, self.describe)

    def wait_finished(self, count: int = CASES, timeout: float = 120) -> None:
        self.wait_for(lambda: self.finished() >= count, timeout)

    def figures(self, fault_at: float, finished_at_fault: int, **extra: Any) -> Figures:
        """Count what the SMTP server received against the cases of the database."""
        with self.smtp.lock:
            messages = [(str(m["To"]), str(m["Message-ID"])) for m in self.smtp.messages]
        per_recipient: dict[str, set[str]] = {}
        for to, message_id in messages:
            per_recipient.setdefault(to, set()).add(message_id)
        copies = Counter(message_id for _, message_id in messages)
        return Figures(
            scenario=self.name,
            cases=CASES,
            finished=self.finished(),
            lost=sum(1 for r in self.recipients if r not in per_recipient),
            duplicated=sum(len(ids) - 1 for ids in per_recipient.values()),
            resent=sum(n - 1 for n in copies.values()),
            recovery_seconds=round(self.last_finished_at() - fault_at, 1),
            finished_at_fault=finished_at_fault,
            extra=extra,
        )

    def assert_every_step_done(self) -> None:
        """Every step done; every email sent, and reported delivered by the relay."""
        steps = self.query("SELECT status, count(*) FROM steps GROUP BY 1")
        assert dict(map(tuple, steps)) == {"done": CASES}, self.describe()
        self.wait_for(
            lambda: (
                self.query("SELECT status, count(*) FROM emails GROUP BY 1")
                == [("delivered", CASES)]
            ),
            timeout=60,
        )
