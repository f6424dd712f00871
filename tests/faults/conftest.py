"""Fault injection on the distributed mode: real ``coopflow worker`` and ``coopflow
scheduler`` processes, PostgreSQL, Redis and an SMTP server on loopback.

The suite runs its own PostgreSQL cluster and its own ``redis-server`` on free ports:
restarting or flushing them cannot disturb anybody else's tests on the machine. Each
scenario gets a database of its own, copied from a migrated template holding AD06 and
a national staff account.

The leases and backoff are shortened through ``COOPFLOW_STEP_*`` so that recovery
takes seconds; everything else is production's code path.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import create_engine, pool, text
from sqlalchemy.exc import DBAPIError

from coopflow import schema
from coopflow.config import PROJECT_ROOT
from tests.services import require_postgres, require_redis
from tests.smtp import SMTPServer, _free_port
from web.webhooks import SIGNATURE_HEADER, signature

COOPFLOW = str(Path(sys.executable).with_name("coopflow"))
CASES = 500
RESULTS = PROJECT_ROOT / "test-results" / "faults.jsonl"
SECRET_KEY = "fault-injection-secret-key"
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


# The SMTP server ---------------------------------------------------------------------


class _Handler:
    def __init__(self, server: FaultySMTPServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, _smtp: SMTP, _session: Session, envelope: Envelope, address: str, _options: list
    ) -> str:
        if self.server.unavailable:
            self.server.temporary_failures += 1
            return "451 4.3.0 Service temporairement indisponible, réessayez plus tard"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _smtp: SMTP, _session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.messages.append(message)  # type: ignore[arg-type]
        if self.server.reports is not None:
            self.server.reports.delivered(str(message["Message-ID"]), str(message["To"]))
        return "250 Message accepted for delivery"


class FaultySMTPServer(SMTPServer):
    """The loopback SMTP server of the tests, which can answer 451 to every recipient,
    and which reports what it accepted like the production relay (``reports``)."""

    def __init__(self) -> None:
        super().__init__()
        self.unavailable = False
        self.temporary_failures = 0
        self.reports: RelayReports | None = None
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def stop(self) -> None:
        super().stop()
        if self.reports is not None:
            self.reports.stop()


class RelayReports:
    """The relay's delivery reports: a ``delivered`` event per accepted message, posted
    signed to coopflow's ``/webhooks/mail`` soon after, and posted again until coopflow
    answers 200 (a web server restarting or a database down only delays them)."""

    RETRY_SECONDS = 0.5

    def __init__(self, web_url: str, secret: str) -> None:
        self.url = web_url + "/webhooks/mail"
        self.secret = secret
        self.pending: queue.Queue[bytes | None] = queue.Queue()
        self.posted = 0
        self._thread = threading.Thread(target=self._post_all, daemon=True)
        self._thread.start()

    def delivered(self, message_id: str, recipient: str) -> None:
        document = {
            "eventId": f"delivered:{message_id}",
            "eventType": "delivered",
            "eventDate": datetime.now(UTC).isoformat(),
            "messageId": message_id,
            "recipient": recipient,
        }
        self.pending.put(json.dumps(document).encode())

    def stop(self) -> None:
        self.pending.put(None)
        self._thread.join(timeout=5)

    def _post_all(self) -> None:
        while (body := self.pending.get()) is not None:
            while not self._post(body):
                time.sleep(self.RETRY_SECONDS)
            self.posted += 1

    def _post(self, body: bytes) -> bool:
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(self.secret, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return int(answer.status) == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False


# Redis ---------------------------------------------------------------------------------


class RedisServer:
    """A ``redis-server`` of the suite's own, without persistence (like CI's)."""

    def __init__(self, log: Path) -> None:
        self.port = _free_port()
        self.db = 3
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{self.db}"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    shutil.which("redis-server") or "redis-server",
                    *("--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: _pings(self.url), 10, "redis-server does not answer")

    def stop(self) -> None:
        """``SHUTDOWN NOSAVE``: every queued message is gone."""
        assert self.process is not None
        with contextlib.suppress(redis.ConnectionError):
            self.client().shutdown(nosave=True)
        self.process.wait(timeout=10)
        self.process = None

    def flush(self) -> None:
        client = self.client()
        client.flushdb()
        client.close()


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.ConnectionError:
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_redis()  # the machine's Redis: its presence says Redis is part of this run
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server est introuvable : la suite « fault » lance le sien")
    server = RedisServer(tmp_path_factory.mktemp("redis") / "redis.log")
    server.start()
    yield server
    if server.process is not None:
        server.stop()


# PostgreSQL ----------------------------------------------------------------------------


def _postgres_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts)
    return versions[-1].parent if versions else None


class PostgresServer:
    """A PostgreSQL cluster of the suite's own (initdb in a temporary directory, a free
    port): restarting it in scenario c cuts no other test run on the machine."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = _free_port()
        self.datadir = Path(tempfile.mkdtemp(prefix="coopflow-faults-pg-"))
        # PostgreSQL refuses to run as root: as root, run it as the ``postgres`` user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.datadir, "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str) -> None:
        # Never a pipe for its output: the server it starts would inherit and hold it.
        log = str(self.datadir / "postgres.log")
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.datadir / "data"), *args]
            + (["-l", log] if args[-1] in ("start", "restart") else []),
            check=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        initdb = ["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
        subprocess.run(
            [*self.as_user, str(self.bindir / "initdb"), "-D", str(self.datadir / "data"), *initdb],
            check=True,
            timeout=120,
            capture_output=True,
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories="
            f"{self.datadir} -c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        self._pg_ctl("-o", options, "-w", "start")

    def restart(self) -> None:
        """Fast shutdown (every connection is cut), then start with the same options."""
        self._pg_ctl("-m", "fast", "-w", "restart")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._pg_ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(self.datadir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    require_postgres()  # the machine's PostgreSQL: its presence says it is part of this run
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.fail("pg_ctl est introuvable : la suite « fault » lance son propre PostgreSQL")
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.stop()


def _admin_execute(server: PostgresServer, *statements: str) -> None:
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


@pytest.fixture(scope="session")
def template_database(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A migrated database with AD06 and a national staff account, copied per scenario."""
    name = "coopflow_faults_template"
    _admin_execute(postgres_server, f'CREATE DATABASE "{name}"')
    url = postgres_server.url(name)
    schema.upgrade(url)
    env = _env(url, "redis://127.0.0.1:1/0", None)
    cwd = tmp_path_factory.mktemp("template")
    for command in (
        "create-ad --code AD06 --name 'OCCE 06' --email ad06@occe.coop --domain ac-nice.fr",
        f"create-staff --email {STAFF_EMAIL} --name 'Équipe Nationale' --role national"
        " --password Panne*Courrier2026",
    ):
        done = subprocess.run(
            [COOPFLOW, *shlex.split(command)],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    return name


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


def wait_until(predicate: Callable[[], Any], timeout: float, message: str | Callable[[], str]):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(0.05)


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
                    "web:create_app()",
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


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest,
    postgres_server: PostgresServer,
    template_database: str,
    redis_server: RedisServer,
    tmp_path: Path,
) -> Iterator[Cluster]:
    """A fresh database, an empty broker, an SMTP server; processes started by the test."""
    name = request.node.name.removeprefix("test_")
    database = f"coopflow_faults_{name}"
    _admin_execute(
        postgres_server,
        f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
        f'CREATE DATABASE "{database}" TEMPLATE "{template_database}"',
    )
    redis_server.flush()
    running = Cluster(name, database, postgres_server, redis_server, tmp_path)
    try:
        yield running
    finally:
        running.stop()
        if redis_server.process is None:
            redis_server.start()  # a scenario stopped it and failed before restarting
        _admin_execute(postgres_server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
