"""The composition root: settings → database, engine, broker, mailer, links.

Every process (web, worker, scheduler, or all three in ``coopflow serve``) builds one
Runtime; nothing else reads the configuration or wires the parts together.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dramatiq

from coopflow.config import Settings, load_settings
from coopflow.db_migrations import alembic_head
from coopflow.observability import init_sentry
from workers.broker import bulk_publisher_for, declare_actors, make_broker, publisher_for
from workers.metrics import step_duration_if_used
from workers.providers.mail import Mailer, make_mailer
from workers.scheduler import Scheduler
from workflows.engine.clock import Clock, SystemClock
from workflows.engine.db import Database
from workflows.engine.definition import Definition
from workflows.engine.engine import Engine, StepTiming
from workflows.links import Links
from workflows.processes import DEFINITIONS

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    engine: Engine
    broker: dramatiq.Broker
    #: ``run_step``; ``bulk_actor`` is ``run_bulk``.
    actor: dramatiq.Actor
    bulk_actor: dramatiq.Actor
    mailer: Mailer
    links: Links
    _worker: dramatiq.Worker | None = field(default=None, repr=False)
    _scheduler: Scheduler | None = field(default=None, repr=False)

    def start_worker(self, threads: int | None = None) -> dramatiq.Worker:
        """Worker threads inside this process (the embedded mode, and tests)."""
        worker = dramatiq.Worker(
            self.broker, worker_threads=threads or self.settings.worker_threads, worker_timeout=100
        )
        worker.start()
        self._worker = worker
        return worker

    def start_scheduler(self) -> Scheduler:
        scheduler = Scheduler(self.engine, self.settings.scheduler_interval)
        scheduler.start()
        self._scheduler = scheduler
        return scheduler

    def join(self, timeout_ms: int = 30_000) -> None:
        """Wait until the in-process queue is empty and the workers idle (tests)."""
        from workers.broker import QUEUE

        self.broker.join(QUEUE, timeout=timeout_ms)
        if self._worker is not None:
            self._worker.join()

    def ping_broker(self) -> None:
        client = getattr(self.broker, "client", None)
        if client is not None:
            client.ping()

    def schema_revisions(self) -> tuple[str | None, str | None]:
        from alembic.runtime.migration import MigrationContext

        with self.db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current, alembic_head()

    def embedded_worker_alive(self) -> bool:
        worker = self._worker
        return worker is not None and any(thread.is_alive() for thread in worker.workers)

    def worker_metrics(self) -> list[Any]:
        histogram = step_duration_if_used()
        return [] if histogram is None else [histogram]

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._worker is not None:
            self._worker.stop()
        self.broker.close()
        self.db.dispose()


def build_runtime(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    definitions: Mapping[str, Definition] | None = None,
) -> Runtime:
    """The composition root; ``definitions`` replaces the registry (the benchmarks add
    a process of their own)."""
    settings = settings or load_settings()
    init_sentry(settings)
    if not settings.secret_key:
        raise RuntimeError("COOPFLOW_SECRET_KEY est vide")
    db = Database(settings.database_url)
    timing = StepTiming(
        run_lease=timedelta(seconds=settings.step_lease_seconds),
        publish_lease=timedelta(seconds=settings.step_publish_lease_seconds),
        backoff_base=timedelta(seconds=settings.step_backoff_seconds),
        backoff_max=timedelta(seconds=settings.step_backoff_max_seconds),
    )
    engine = Engine(db, definitions or DEFINITIONS, clock=clock or SystemClock(), timing=timing)
    broker = make_broker(settings.broker_url)
    runtime = Runtime(
        settings=settings,
        db=db,
        engine=engine,
        broker=broker,
        actor=None,  # type: ignore[arg-type]  # set below: the actors need the runtime
        bulk_actor=None,  # type: ignore[arg-type]
        mailer=make_mailer(settings.smtp_url),
        links=Links(settings.secret_key),
    )
    actors = declare_actors(broker, runtime)
    runtime.actor, runtime.bulk_actor = actors.run_step, actors.run_bulk
    engine.publisher = publisher_for(runtime.actor, settings.step_batch)
    engine.bulk_publisher = bulk_publisher_for(runtime.bulk_actor)
    return runtime
