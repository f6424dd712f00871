"""Database engines and sessions, the same code on SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from workflows.search import FOLD_FUNCTION, fold

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
        self._write_bind = self.engine.execution_options(**{IMMEDIATE: True})
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.write_sessions = sessionmaker(self._write_bind, expire_on_commit=False)
        if not self.is_sqlite:
            for sessions in (self.sessions, self.write_sessions):
                event.listen(sessions, "before_flush", _draw_ids)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        with self.write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A write transaction on a Core connection, without an ORM session (what a
        statement on every step's path needs: a session costs more than its statement)."""
        with self._write_bind.begin() as connection:
            yield connection

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
        # The search's folding (PostgreSQL: a function of migration 0009).
        dbapi_connection.create_function(FOLD_FUNCTION, 1, fold, deterministic=True)

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


def _draw_ids(session: Session, _flush_context: Any, _instances: Any) -> None:
    """Give the new rows of a flush their ids first, table by table, where there are many
    (PostgreSQL; a ``before_flush`` hook of every session, autoflushes included).

    Without ids, the ORM inserts them by one ``INSERT … RETURNING`` per thousand rows
    (SQLAlchemy's « insertmanyvalues »): a statement of thousands of placeholders that
    psycopg converts in Python every time (it caches only short ones), the biggest cost
    of an import. With their ids, the same rows go by ``executemany``: one short
    statement, converted once, its rows pipelined. The ids come from the table's own
    sequence in one statement, in the order the rows were added; SQLite, embedded,
    keeps the ``RETURNING`` way.
    """
    new: dict[str, list[Any]] = {}
    for obj in session.new:
        if getattr(obj, "id", 0) is None:
            new.setdefault(obj.__table__.name, []).append(obj)
    connection = session.connection()
    for table_name, objects in new.items():
        if len(objects) < PREASSIGN_FROM:
            continue
        objects.sort(key=lambda obj: inspect(obj).insert_order)
        ids = connection.execute(_NEXT_IDS, {"table": table_name, "n": len(objects)}).scalars()
        for obj, new_id in zip(objects, sorted(ids), strict=True):
            obj.id = new_id
