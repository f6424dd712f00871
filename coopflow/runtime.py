"""The composition root: settings → database, engine, broker, mailer, Swan, links.

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

from coopflow import house
from coopflow.config import Settings, load_settings
from coopflow.db_migrations import alembic_head
from coopflow.house import House
from coopflow.observability import init_sentry
from workers.broker import bulk_publisher_for, declare_actors, make_broker, publisher_for
from workers.metrics import step_duration_if_used
from workers.providers.mail import Mailer, make_mailer
from workers.providers.swan import Swan, make_swan
from workers.scheduler import Scheduler
from workflows.engine.clock import Clock, SystemClock
from workflows.engine.db import Database
from workflows.engine.definition import Definition
from workflows.engine.engine import Engine, StepTiming
from workflows.links import Links
from workflows.processes import DEFINITIONS

log = logging.getLogger(__name__)

#: Embedded: seconds between two looks for steps written and not published by another
#: process (one indexed query; the rest of the scheduler's tick keeps its interval).
UNPUBLISHED_STEPS_INTERVAL = 1.0


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
    #: The sandbox, Swan's API or the manual path (``COOPFLOW_SWAN_MODE``).
    swan: Swan
    links: Links
    _worker: dramatiq.Worker | None = field(default=None, repr=False)
    _scheduler: Scheduler | None = field(default=None, repr=False)

    def start_worker(self, threads: int | None = None) -> dramatiq.Worker:
        """Worker threads inside this process (the embedded mode, and tests); from now on
        the in-process broker has a consumer, so the engine publishes to it."""
        worker = dramatiq.Worker(
            self.broker,
            worker_threads=threads or self.settings.worker_threads,
            worker_timeout=self.settings.worker_poll_ms,
        )
        worker.start()
        self._worker = worker
        self._publish()
        return worker

    def start_scheduler(self) -> Scheduler:
        """The scheduler thread; embedded, it also looks every second for the steps other
        processes (the CLI's commands) wrote without publishing them."""
        scheduler = Scheduler(
            self.engine,
            self.settings.scheduler_interval,
            steps_interval=UNPUBLISHED_STEPS_INTERVAL if self.settings.embedded_broker else None,
        )
        scheduler.start()
        self._scheduler = scheduler
        return scheduler

    def _publish(self) -> None:
        """Let the engine hand step ids and bulk jobs to the broker: somebody consumes it."""
        self.engine.publisher = publisher_for(self.actor, self.settings.step_batch)
        self.engine.bulk_publisher = bulk_publisher_for(self.bulk_actor)

    def join(self, timeout_ms: int = 30_000) -> None:
        """Wait until the in-process queue is empty and the workers idle (tests)."""
        from dramatiq.brokers.redis import RedisBroker

        from workers.broker import QUEUE

        if isinstance(self.broker, RedisBroker):  # it polls Redis: every 10 ms, not 100
            self.broker.join(QUEUE, timeout=timeout_ms, interval=10)
        else:
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
            if self.settings.embedded_broker:  # its broker has no consumer any more
                self.engine.publisher = self.engine.bulk_publisher = None
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
    # Every process (web, worker, scheduler, command) refuses to start on a missing piece.
    house.check(House.of(engine.definitions))
    broker = make_broker(settings.broker_url)
    runtime = Runtime(
        settings=settings,
        db=db,
        engine=engine,
        broker=broker,
        actor=None,  # type: ignore[arg-type]  # set below: the actors need the runtime
        bulk_actor=None,  # type: ignore[arg-type]
        mailer=make_mailer(settings.smtp_url),
        swan=make_swan(settings, db, engine.clock),
        links=Links(settings.secret_key),
    )
    actors = declare_actors(broker, runtime)
    runtime.actor, runtime.bulk_actor = actors.run_step, actors.run_bulk
    if not settings.embedded_broker:
        # Redis: the workers of other processes consume it. The in-process broker has a
        # consumer only once ``start_worker`` runs; until then (a CLI command beside
        # ``coopflow serve``) steps are written due, for the server's scheduler to publish.
        runtime._publish()
    return runtime
