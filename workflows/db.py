"""Database engines and sessions, the same code on SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

#: Execution option asking SQLite for ``BEGIN IMMEDIATE``: the write lock is taken at
#: the start of the transaction, so two writers queue on the busy timeout instead of
#: failing when the second one upgrades its read snapshot.
IMMEDIATE = "coopflow_immediate"


class Database:
    """An engine plus two session factories: ``read`` and ``write`` (locking) sessions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = _create_engine(url, echo=echo)
        write_bind = self.engine.execution_options(**{IMMEDIATE: True})
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.write_sessions = sessionmaker(write_bind, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        with self.write_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


#: A pooled connection unused for longer than this is checked before it is handed out.
PING_AFTER_SECONDS = 1.0


def _create_engine(url: str, *, echo: bool) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20)
        _ping_idle_connections(engine)
        return engine

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """``pool_pre_ping``, but only for connections that sat in the pool a while.

    A worker runs several short transactions per step, each taking a connection it
    gave back a few milliseconds before: pinging every time cost a round trip per
    transaction. A connection idle for longer is checked (a database restart, a
    failover, a firewall's idle timeout); one cut while in use fails its transaction,
    and SQLAlchemy then drops every connection of the pool, so the next ones reconnect.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_SECONDS:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as exc:
            # The pool drops this connection and hands out another (up to 3 tries).
            raise DisconnectionError(str(exc)) from exc


_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)")
#: From this many new rows of a table in one flush, their ids are drawn first.
PREASSIGN_FROM = 50


def preassign_ids(session: Session, objects: Sequence[Any]) -> None:
    """Give many new rows of one table their ids before the flush (PostgreSQL).

    Without ids, the ORM inserts them by one ``INSERT … RETURNING`` per thousand rows
    (SQLAlchemy's « insertmanyvalues »): a statement of thousands of placeholders that
    psycopg converts in Python every time (it caches only short ones), the biggest cost
    of an import. With their ids, the same rows go by ``executemany``: one short
    statement, converted once, its rows pipelined. The ids come from the table's own
    sequence in one statement; SQLite, embedded, keeps the ``RETURNING`` way.
    """
    if len(objects) < PREASSIGN_FROM or session.get_bind().dialect.name != "postgresql":
        return
    assert all(obj.id is None for obj in objects), "rows already written"
    with session.no_autoflush:  # the rows may be pending already: not written before
        ids = session.execute(
            _NEXT_IDS,
            {"table": objects[0].__table__.name, "n": len(objects)},
        ).scalars()
    for obj, new_id in zip(objects, sorted(ids), strict=True):
        obj.id = new_id
