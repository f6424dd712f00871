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

import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from coopflow import db_migrations
from tests.faults.cluster import COOPFLOW, STAFF_EMAIL, Cluster, _env
from tests.faults.servers import PostgresServer, RedisServer, admin_execute, postgres_bindir
from tests.services import require_postgres, require_redis


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    require_postgres()  # the machine's PostgreSQL: its presence says it is part of this run
    bindir = postgres_bindir()
    if bindir is None:
        pytest.fail("pg_ctl est introuvable : la suite « fault » lance son propre PostgreSQL")
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def template_database(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A migrated database with AD06 and a national staff account, copied per scenario."""
    name = "coopflow_faults_template"
    admin_execute(postgres_server, f'CREATE DATABASE "{name}"')
    url = postgres_server.url(name)
    db_migrations.upgrade(url)
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
    admin_execute(
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
        admin_execute(postgres_server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
