"""What the benchmarks run against: a PostgreSQL database of their own (created, migrated,
dropped), a Redis database of their own, an SMTP sink on loopback, and processes started
as the Procfile would start them, with their peak memory read from ``/proc``."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, make_url, pool, text

from coopflow import db_migrations
from coopflow.config import PROJECT_ROOT

#: The server's maintenance database; each benchmark makes a database of its own.
POSTGRES_URL = os.environ.get(
    "COOPFLOW_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
#: Database 14: the tests use 15 (CI) or 1-14 by pid; benchmarks are not run beside CI.
REDIS_URL = os.environ.get("COOPFLOW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
BIN = Path(sys.executable).parent
SECRET_KEY = "bench-secret-key-not-for-production"


class Unavailable(RuntimeError):
    """A server the benchmark needs does not answer."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_servers() -> None:
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError as exc:
            raise Unavailable(f"{name} injoignable sur 127.0.0.1:{port}") from exc


@contextmanager
def postgres_database(name: str) -> Iterator[str]:
    """A new migrated database ``coopflow_bench_<name>``, dropped afterwards."""
    database = f"coopflow_bench_{name}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    url = make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)
    try:
        db_migrations.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def flush_redis() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    return REDIS_URL


class SMTPSink:
    """An SMTP server on loopback that counts what it accepts (and keeps nothing else)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.count = 0
        self.recipients: set[str] = set()
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self._lock:
            self.count += 1
            self.recipients.update(envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SMTPSink:
        self._controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._controller.stop()
        # aiosmtpd leaves its loop's default executor behind on some versions.
        asyncio.set_event_loop(None)


def environment(database_url: str, broker_url: str, **settings: str) -> dict[str, str]:
    """A process environment naming every ``COOPFLOW_*`` setting it needs, nothing inherited."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COOPFLOW_")}
    env = {
        **clean,
        "COOPFLOW_DATABASE_URL": database_url,
        "COOPFLOW_BROKER_URL": broker_url,
        "COOPFLOW_SECRET_KEY": SECRET_KEY,
        "COOPFLOW_BASE_URL": "http://coopflow.bench",
        "COOPFLOW_LOG_LEVEL": "WARNING",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    env.update({f"COOPFLOW_{k.upper()}": v for k, v in settings.items()})
    return env


class Processes:
    """Processes started in their own process group, stopped (and reaped) together."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.logdir / f"{len(self.started):02d}-{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.started = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def group_members(pid: int) -> list[int]:
    """Every live process of ``pid``'s process group (a ``dramatiq`` parent and its forks)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pid:
                    out.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return out


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (``VmHWM``), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, *, every: float = 0.05
) -> None:
    """Return once ``predicate()`` holds, asking every ``every`` seconds (a predicate that
    counts rows on the database under test loads it: ask less often)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: pas atteint en {timeout:.0f} s")
        time.sleep(every)
