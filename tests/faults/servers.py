"""The fault suite's own servers: a ``redis-server`` and a PostgreSQL cluster on free
ports, which a scenario may flush, stop or restart without disturbing anybody else."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import create_engine, pool, text

from tests.smtp import _free_port

# Redis ---------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], Any], timeout: float, message: str | Callable[[], str]):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(0.05)


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


# PostgreSQL ----------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
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


def admin_execute(server: PostgresServer, *statements: str) -> None:
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()
