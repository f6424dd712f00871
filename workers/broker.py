"""The Dramatiq broker: Redis in the distributed mode, in-process for the embedded one,
and its two actors: ``run_step`` (step ids: one message carries up to
``COOPFLOW_STEP_BATCH`` steps) and ``run_bulk`` (a bulk job id).

Retries are the engine's business (step rows with backoff and leases, bulk jobs with
leases), so the broker runs without Dramatiq's Retries middleware.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, ShutdownNotifications, TimeLimit
from dramatiq.middleware.prometheus import Prometheus

from workers.bulk import run_bulk
from workers.context import Services
from workers.runner import run_steps

#: Steps and bulk jobs share one queue: a bulk job takes one batch per message, so the
#: steps it queues (and everyone else's) interleave with its batches.
QUEUE = "steps"
#: A step handler running longer than this is interrupted (the lease then expires).
STEP_TIME_LIMIT_MS = 5 * 60 * 1000


def make_broker(url: str) -> dramatiq.Broker:
    middleware = [
        AgeLimit(),
        TimeLimit(time_limit=STEP_TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
    ]
    broker: dramatiq.Broker
    if url.startswith("stub:"):
        broker = StubBroker(middleware=middleware)
        broker.emit_after("process_boot")
    elif url.startswith(("redis:", "rediss:")):
        middleware.append(WorkerPrometheus())
        broker = RedisBroker(url=url, middleware=middleware, namespace="coopflow")
    else:
        raise ValueError(f"COOPFLOW_BROKER_URL non reconnue : {url!r}")
    dramatiq.set_broker(broker)
    return broker


class WorkerPrometheus(Prometheus):
    """Dramatiq's Prometheus middleware, recording only in ``dramatiq`` worker processes.

    Those boot it (``process_boot``: metrics in ``PROMETHEUS_MULTIPROC_DIR``, served by a
    process ``dramatiq`` forks, on port 9191, with ``coopflow_step_duration_seconds``); the web,
    the scheduler and in-process workers share the Redis broker, never boot it, record nothing.
    """

    booted = False

    def after_process_boot(self, broker):
        super().after_process_boot(broker)
        self.booted = True

    def after_nack(self, broker, message):
        if self.booted:
            super().after_nack(broker, message)

    def after_enqueue(self, broker, message, delay):
        if self.booted:
            super().after_enqueue(broker, message, delay)

    def before_delay_message(self, broker, message):
        if self.booted:
            super().before_delay_message(broker, message)

    def before_process_message(self, broker, message):
        if self.booted:
            super().before_process_message(broker, message)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if self.booted:
            super().after_process_message(broker, message, result=result, exception=exception)

    after_skip_message = after_process_message

    def after_worker_shutdown(self, broker, worker):
        if self.booted:
            super().after_worker_shutdown(broker, worker)


@dataclass(frozen=True)
class Actors:
    run_step: dramatiq.Actor[[int | list[int]], None]
    run_bulk: dramatiq.Actor[[int], None]


def declare_actors(broker: dramatiq.Broker, services: Services) -> Actors:
    """Declare the ``run_step`` and ``run_bulk`` actors on ``broker``, bound to ``services``."""

    def run_step_actor(step_ids: int | list[int]) -> None:
        # A single id: a message published before steps travelled in batches.
        run_steps(services, [step_ids] if isinstance(step_ids, int) else step_ids)

    def run_bulk_actor(job_id: int) -> None:
        run_bulk(services, job_id)

    return Actors(
        run_step=dramatiq.actor(actor_name="run_step", queue_name=QUEUE, broker=broker)(
            run_step_actor
        ),
        run_bulk=dramatiq.actor(actor_name="run_bulk", queue_name=QUEUE, broker=broker)(
            run_bulk_actor
        ),
    )


def publisher_for(actor: dramatiq.Actor, batch: int = 1) -> Callable[[list[int], int], None]:
    """The engine's publisher: one message per ``batch`` step ids, delayed when asked.

    The steps of one message run one after the other in one worker thread: a batch
    trades a little latency for far fewer messages, claims and commits (a wave of
    invitations, a chain of automated steps)."""

    def publish(step_ids: list[int], delay_ms: int) -> None:
        for start in range(0, len(step_ids), batch):
            chunk = step_ids[start : start + batch]
            actor.send_with_options(args=(chunk,), delay=delay_ms or None)

    return publish


def bulk_publisher_for(actor: dramatiq.Actor) -> Callable[[list[int]], None]:
    """The engine's bulk publisher: one message per bulk job id."""

    def publish(job_ids: list[int]) -> None:
        for job_id in job_ids:
            actor.send(job_id)

    return publish
