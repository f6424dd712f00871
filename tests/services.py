"""The real servers the suite talks to: skipped with a reason on a laptop, fatal in CI."""

from __future__ import annotations

import os
import socket

import pytest

CI = os.environ.get("CI", "").lower() == "true"
#: The server's ``test`` database; each test run works in a database of its own created
#: from it, so two runs on one machine (two developers, a developer and CI) never collide.
POSTGRES_URL = os.environ.get(
    "COOPFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: Database 15 in CI; elsewhere one of 1 to 13 chosen by process id, for the same reason
#: (14 is the benchmarks': a test run beside ``make bench`` must not flush its queue).
REDIS_URL = os.environ.get(
    "COOPFLOW_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 if CI else 1 + os.getpid() % 13}"
)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) the test when the server is not listening."""
    if _reachable(host, port):
        return
    message = f"{name} injoignable sur {host}:{port}"
    if CI:
        pytest.fail(f"{message} (CI=true: les serveurs réels sont obligatoires)")
    pytest.skip(message)


def require_postgres() -> None:
    require("PostgreSQL", "127.0.0.1", 5432)


def require_redis() -> None:
    require("Redis", "127.0.0.1", 6379)
