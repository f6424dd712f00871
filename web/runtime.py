"""Access to the process's runtime from inside a request, and what the web layer may
use of it (the composition root, ``coopflow.runtime.Runtime``, provides it)."""

from __future__ import annotations

from typing import Any, Protocol

from flask import current_app

from workflows.engine.db import Database
from workflows.engine.engine import Engine
from workflows.links import Links
from workflows.swan_transactions import TransactionSource


class Runtime(Protocol):
    """The services of the running process, as the web and the back-office see them."""

    settings: Any
    db: Database
    engine: Engine
    links: Links
    #: What the Swan webhook reads of Swan (a transaction event: read, then kept).
    swan: TransactionSource

    def ping_broker(self) -> None:
        """Raise when the broker does not answer (Redis ``PING``; in-process: nothing)."""

    def schema_revisions(self) -> tuple[str | None, str | None]:
        """The database's Alembic revision and the head of this code's migrations."""

    def embedded_worker_alive(self) -> bool:
        """Whether the in-process worker threads run (embedded mode)."""

    def worker_metrics(self) -> list[Any]:
        """Prometheus collectors of the in-process workers (step durations), if any."""


def runtime() -> Runtime:
    return current_app.extensions["coopflow"]  # type: ignore[no-any-return]
