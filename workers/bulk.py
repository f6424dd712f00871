"""Running a bulk job one batch per message: claim it, process a batch, hand it on."""

from __future__ import annotations

import logging

from workers.context import Services
from workflows.engine import bulk

log = logging.getLogger(__name__)


def run_bulk(services: Services, job_id: int) -> None:
    """Idempotent: a duplicate or late delivery of ``job_id`` does nothing.

    One batch per message, then the job goes back to the queue (published after the
    commit that releases it): a long job never holds a worker thread for minutes, and
    steps queued meanwhile are not kept waiting behind it.
    """
    engine = services.engine
    if not bulk.claim(engine, job_id):
        log.debug("bulk job skipped", extra={"job_id": job_id})
        return
    progress = bulk.process(engine, job_id, batch=bulk.BATCH)
    log.info(
        "bulk batch done",
        extra={"job_id": job_id, "processed": progress.processed, "total": progress.total},
    )
    if not progress.finished:
        bulk.hand_on(engine, job_id)
