"""Shared fixtures: settings, a migrated database per test (SQLite and PostgreSQL),
the engine with a movable clock, factories, a real SMTP server on loopback."""

from __future__ import annotations

import atexit
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text

from coopflow import db_migrations
from coopflow.app import create_app
from coopflow.config import Settings
from coopflow.runtime import Runtime, build_runtime
from tests import factories
from tests.services import POSTGRES_URL, REDIS_URL, require_postgres, require_redis
from tests.smtp import SMTPServer
from workflows.engine.clock import MovableClock
from workflows.engine.db import Database
from workflows.engine.engine import Engine
from workflows.models import Base
from workflows.processes import DEFINITIONS

SECRET_KEY = "test-secret-key-not-for-production"
#: Tests start on a Monday morning in Paris, far from any deadline.
T0 = datetime(2026, 9, 7, 7, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating takes longer)."""
    path = tmp_path_factory.mktemp("schema") / "template.sqlite3"
    db_migrations.upgrade(f"sqlite:///{path}")
    return path


_postgres_run_url: str | None = None


def _postgres_url() -> str:
    """This run's own database, created (and migrated) on first use, dropped at the end."""
    global _postgres_run_url
    require_postgres()
    if _postgres_run_url is None:
        name = f"coopflow_test_{os.getpid()}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        db_migrations.upgrade(url)
        _postgres_run_url = url
        atexit.register(_drop_postgres, name)
    return _postgres_run_url


def _drop_postgres(name: str) -> None:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_emptying: tuple[Any, str] | None = None


def _empty_postgres(url: str) -> None:
    """Every table emptied and every sequence restarted, in one round trip on a kept
    connection pool: a ``DELETE`` of the few rows a test wrote takes a tenth of what
    ``TRUNCATE`` of every table does (0.025 s against 0.27 s, once per test)."""
    global _emptying
    if _emptying is None:
        engine = create_engine(url)
        with engine.connect() as conn:
            sequences = conn.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            ).scalars()
            restarts = [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
        deletes = [f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables)]
        _emptying = (engine, "; ".join(deletes + restarts))
        atexit.register(engine.dispose)
    engine, statements = _emptying
    with engine.begin() as conn:
        conn.exec_driver_sql(statements)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """Each test runs on both backends, on an empty migrated schema."""
    if request.param == "sqlite":
        path = tmp_path / "coopflow.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = _postgres_url()
    _empty_postgres(url)
    return url


@pytest.fixture
def broker_url(database_url: str) -> str:
    """Embedded default with SQLite; the distributed mode's Redis with PostgreSQL."""
    if database_url.startswith("sqlite"):
        return "stub://"
    require_redis()
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    return REDIS_URL


@pytest.fixture
def settings(database_url: str, broker_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        broker_url=broker_url,
        smtp_url=None,
        secret_key=SECRET_KEY,
        base_url="http://coopflow.test",
        worker_threads=2,
        worker_poll_ms=10,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(start=T0)


class RecordingPublisher:
    """Stands in for the broker in tests of a definition or a step alone."""

    def __init__(self) -> None:
        self.published: list[tuple[int, int]] = []

    def __call__(self, step_ids: list[int], delay_ms: int) -> None:
        self.published.extend((i, delay_ms) for i in step_ids)

    @property
    def ids(self) -> list[int]:
        return [i for i, _ in self.published]


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def engine(db: Database, clock: MovableClock, publisher: RecordingPublisher) -> Engine:
    return Engine(db, DEFINITIONS, clock=clock, publisher=publisher)


@pytest.fixture
def factory_session(db: Database) -> Iterator[object]:
    """Binds the factories to a session of the test's database."""
    session = db.sessions()
    for f in factories.FACTORIES:
        f._meta.sqlalchemy_session = session
    yield session
    for f in factories.FACTORIES:
        f._meta.sqlalchemy_session = None
    session.close()


@pytest.fixture
def ad(factory_session: object) -> factories.ADFactory:
    return factories.ADFactory(code="AD06", academic_domains=["ac-nice.fr"])


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A real SMTP server on loopback that keeps what it receives."""
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def runtime(settings: Settings, smtp_server: SMTPServer, clock: MovableClock) -> Iterator[Runtime]:
    """The whole system in this process: real broker, worker threads, real SMTP."""
    rt = build_runtime(settings.with_overrides(smtp_url=smtp_server.url), clock=clock)
    rt.start_worker(threads=2)
    yield rt
    rt.stop()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    flask_app = create_app(runtime=runtime)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
