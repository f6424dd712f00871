"""Bulk actions: one staff action over many selected cases, each decided again when its
turn comes, with a report per case (done, or skipped and why).

The life of a job::

    create()   the selection is snapshotted: one item per case with its version; every
               case must be in its author's scope, else nothing is written (draft)
    confirm()  the author saw what would be done and confirmed: handed to a worker
    process()  a batch of items, each in its own transaction: lock the case, check again
               (scope, version, the action still possible now), act, record the outcome
    ...        until no item is pending: the job is done

An item's outcome is written in the transaction of its action: a crash between two
items loses nothing and an item is never done twice. A worker owns a job through
``lease_until`` (renewed at every item); past it, :func:`recover` hands the job on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.exc import OperationalError

from workflows.engine.bulk_actions import act, can_act_on, checked_params
from workflows.engine.engine import Engine, UnitOfWork
from workflows.engine.errors import (
    BulkJobNotFound,
    CaseNotFound,
    CoopflowError,
    SelectionRefused,
    TransitionNotAllowed,
    ValidationError,
)
from workflows.engine.timing import PUBLISH_LEASE
from workflows.models import (
    BulkItem,
    BulkItemStatus,
    BulkJob,
    BulkStatus,
    Case,
    StaffRole,
    StaffUser,
)

log = logging.getLogger(__name__)

#: Items a worker takes at once before handing the job back to the queue, so that a long
#: job never holds a worker thread for minutes and its progress shows as it goes.
BATCH = 50
#: The largest selection one job may hold.
MAX_CASES = 10_000
#: How long a worker owns a job after its last item before the scheduler hands it on.
RUN_LEASE = timedelta(minutes=2)
#: The ids of a selection are read by chunks (SQLite limits the parameters of a query).
_CHUNK = 500

COMMENT_REQUIRED = "Indiquez un commentaire : il est enregistré dans l'historique des dossiers."
CHANGED = "le dossier a changé depuis la sélection (état actuel : {state})"
ACTIVE = (BulkStatus.PENDING.value, BulkStatus.RUNNING.value)


@dataclass(frozen=True)
class Progress:
    """Where a job stands: its counters as committed."""

    job_id: int
    status: str
    total: int
    done: int
    skipped: int

    @property
    def processed(self) -> int:
        return self.done + self.skipped

    @property
    def remaining(self) -> int:
        return self.total - self.processed

    @property
    def finished(self) -> bool:
        return self.status == BulkStatus.DONE.value

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.processed * 100 // self.total

    @classmethod
    def of(cls, job: BulkJob) -> Progress:
        return cls(job.id, job.status, job.total, job.done_count, job.skipped_count)


# Creating and confirming ---------------------------------------------------------------


def create(
    tx: UnitOfWork,
    *,
    staff_id: int,
    action: str,
    params: Mapping[str, Any],
    case_ids: Iterable[int],
    comment: str,
    description: str,
) -> BulkJob:
    """A draft job over ``case_ids``, each with its version now. Raises
    :class:`ValidationError` (nothing written) for a bad action or comment, and
    :class:`SelectionRefused` when a case is unknown or outside its author's scope."""
    staff = tx.session.get(StaffUser, staff_id)
    if staff is None or not staff.is_active or staff.role == StaffRole.READONLY.value:
        raise SelectionRefused("Votre compte ne permet pas d'agir sur les dossiers.")
    comment = comment.strip()
    if not comment:
        raise ValidationError(COMMENT_REQUIRED)
    checked = checked_params(tx, action, params)
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        raise ValidationError("Aucun dossier sélectionné : cochez au moins un dossier.")
    if len(ids) > MAX_CASES:
        most = f"{MAX_CASES:,}".replace(",", "\u202f")  # 10 000, as French writes it
        raise ValidationError(
            f"Une action groupée traite au plus {most} dossiers : affinez la sélection."
        )
    found: dict[int, tuple[int, int]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = tx.session.execute(
            select(Case.id, Case.ad_id, Case.version).where(Case.id.in_(chunk))
        )
        found.update({case_id: (ad_id, version) for case_id, ad_id, version in rows})
    refused = [i for i in ids if i not in found or not can_act_on(staff, found[i][0])]
    if refused:
        shown = ", ".join(str(i) for i in refused[:10]) + (" …" if len(refused) > 10 else "")
        raise SelectionRefused(
            f"Dossiers introuvables ou hors de votre périmètre : n° {shown}. "
            "Aucune action n'a été lancée."
        )
    job = BulkJob(
        action=action,
        params=checked,
        description=description,
        comment=comment,
        staff_id=staff.id,
        status=BulkStatus.DRAFT.value,
        total=len(ids),
        done_count=0,
        skipped_count=0,
        created_at=tx.now,
    )
    tx.session.add(job)
    tx.session.flush()
    tx.session.add_all(
        BulkItem(
            job_id=job.id,
            case_id=i,
            selected_version=found[i][1],
            status=BulkItemStatus.PENDING.value,
        )
        for i in ids
    )
    tx.session.flush()
    log.info("bulk job drafted", extra={"job_id": job.id, "action": action, "total": job.total})
    return job


def _own_job(tx: UnitOfWork, job_id: int, staff_id: int) -> BulkJob:
    job = tx.session.get(BulkJob, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.staff_id != staff_id:
        raise BulkJobNotFound(f"Action groupée n° {job_id} introuvable.")
    return job


def confirm(tx: UnitOfWork, job_id: int, staff_id: int) -> BulkJob:
    """The author confirms their draft: a worker takes it once the transaction commits."""
    job = _own_job(tx, job_id, staff_id)
    if job.status != BulkStatus.DRAFT.value:
        raise TransitionNotAllowed("Cette action groupée est déjà lancée.")
    job.status = BulkStatus.PENDING.value
    job.lease_until = tx.now + PUBLISH_LEASE
    tx.new_bulk_jobs.append(job.id)
    log.info("bulk job confirmed", extra={"job_id": job.id})
    return job


def abandon(tx: UnitOfWork, job_id: int, staff_id: int) -> None:
    """The author drops their draft: it and its items are deleted."""
    job = _own_job(tx, job_id, staff_id)
    if job.status != BulkStatus.DRAFT.value:
        raise TransitionNotAllowed("Cette action groupée est déjà lancée.")
    tx.session.execute(
        delete(BulkItem)
        .where(BulkItem.job_id == job.id)
        .execution_options(synchronize_session=False)
    )
    tx.session.delete(job)


# Processing ----------------------------------------------------------------------------


def process(engine: Engine, job_id: int, batch: int = BATCH) -> Progress:
    """Act on up to ``batch`` pending items of a confirmed job, each in its own
    transaction; the job is done once none is pending. Safe to run twice at once."""
    with engine.db.read() as session:
        job = session.get(BulkJob, job_id)
        if job is None:
            raise BulkJobNotFound(f"Action groupée n° {job_id} introuvable.")
        todo = []
        if job.status in ACTIVE:  # never a draft: nobody confirmed it
            todo = list(
                session.execute(
                    select(BulkItem.id, BulkItem.case_id)
                    .where(
                        BulkItem.job_id == job_id,
                        BulkItem.status == BulkItemStatus.PENDING.value,
                    )
                    .order_by(BulkItem.id)
                    .limit(batch)
                )
            )
    for item_id, case_id in todo:
        _process_item(engine, job_id, item_id, case_id)
    return _finish_if_done(engine, job_id)


def _process_item(engine: Engine, job_id: int, item_id: int, case_id: int) -> None:
    with engine.transaction() as tx:
        try:
            case: Case | None = tx.lock(case_id)  # the case first, as everywhere
        except CaseNotFound:
            case = None
        item = tx.session.get(BulkItem, item_id, with_for_update=True, populate_existing=True)
        if item is None or item.status != BulkItemStatus.PENDING.value:
            return  # another run of this job got there first
        job = tx.session.get(BulkJob, job_id)
        assert job is not None
        done, message = _decide(tx, job, item, case)
        item.status = (BulkItemStatus.DONE if done else BulkItemStatus.SKIPPED).value
        item.message = message[:2000]
        item.processed_at = tx.now
        tx.session.execute(
            update(BulkJob)
            .where(BulkJob.id == job_id)
            .values(
                done_count=BulkJob.done_count + int(done),
                skipped_count=BulkJob.skipped_count + int(not done),
                lease_until=sql_case(
                    (BulkJob.status == BulkStatus.RUNNING.value, tx.now + RUN_LEASE),
                    else_=BulkJob.lease_until,
                ),
            )
            .execution_options(synchronize_session=False)
        )
    log.info(
        "bulk item processed",
        extra={"job_id": job_id, "case_id": case_id, "done": done, "why": message},
    )


def _decide(tx: UnitOfWork, job: BulkJob, item: BulkItem, case: Case | None) -> tuple[bool, str]:
    """Check the case again now, then act: ``(True, what was done)`` or ``(False, why not)``."""
    if case is None:
        return False, "dossier introuvable"
    staff = tx.session.get(StaffUser, job.staff_id)
    if staff is None or not staff.is_active or staff.role == StaffRole.READONLY.value:
        return False, "votre compte ne permet plus d'agir sur les dossiers"
    if not can_act_on(staff, case.ad_id):
        return False, "le dossier n'est plus dans votre périmètre"
    definition = tx.engine.definition(case.process)
    if case.version != item.selected_version:
        return False, CHANGED.format(state=definition.label(case.state))
    try:
        with tx.session.begin_nested():
            return True, act(tx, job, case, staff)
    except CoopflowError as exc:
        return False, str(exc)
    except OperationalError:
        raise  # the database's trouble (deadlock, lost connection): the item waits
    except Exception:
        # A bug must not stop the job, nor make it retry the same case forever.
        log.exception("bulk item failed", extra={"job_id": job.id, "case_id": case.id})
        return False, "erreur technique : le dossier n'a pas été modifié"


def _finish_if_done(engine: Engine, job_id: int) -> Progress:
    """Close the job when no item is pending; its counters are recounted from the items."""
    with engine.transaction() as tx:
        job = tx.session.get(BulkJob, job_id, with_for_update=True, populate_existing=True)
        assert job is not None
        if job.status in ACTIVE:
            counts = dict(
                tx.session.execute(
                    select(BulkItem.status, func.count())
                    .where(BulkItem.job_id == job_id)
                    .group_by(BulkItem.status)
                ).all()
            )
            if not counts.get(BulkItemStatus.PENDING.value):
                job.done_count = counts.get(BulkItemStatus.DONE.value, 0)
                job.skipped_count = counts.get(BulkItemStatus.SKIPPED.value, 0)
                job.status = BulkStatus.DONE.value
                job.finished_at = tx.now
                job.lease_until = None
                log.info(
                    "bulk job done",
                    extra={"job_id": job_id, "done": job.done_count, "skipped": job.skipped_count},
                )
        return Progress.of(job)


# Workers and the scheduler -------------------------------------------------------------


def claim(engine: Engine, job_id: int) -> bool:
    """Take the job for this delivery; ``False`` when it is done, a draft, or owned by a
    live worker (a duplicate message)."""
    with engine.transaction() as tx:
        result: CursorResult[Any] = tx.session.execute(  # type: ignore[assignment]
            update(BulkJob)
            .where(
                BulkJob.id == job_id,
                or_(
                    BulkJob.status == BulkStatus.PENDING.value,
                    (BulkJob.status == BulkStatus.RUNNING.value) & (BulkJob.lease_until < tx.now),
                ),
            )
            .values(status=BulkStatus.RUNNING.value, lease_until=tx.now + RUN_LEASE)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def hand_on(engine: Engine, job_id: int) -> None:
    """After a batch: back to the queue for the next one (published after commit),
    unless the job finished or the scheduler already handed it on."""
    with engine.transaction() as tx:
        job = tx.session.get(BulkJob, job_id, with_for_update=True, populate_existing=True)
        if job is None or job.status != BulkStatus.RUNNING.value:
            return
        job.status = BulkStatus.PENDING.value
        job.lease_until = tx.now + PUBLISH_LEASE
        tx.new_bulk_jobs.append(job.id)


def recover(engine: Engine, limit: int = 100) -> int:
    """Hand on again the confirmed jobs whose lease ran out: lost message, killed worker,
    flushed broker. Returns how many."""
    with engine.transaction() as tx:
        jobs = tx.session.scalars(
            select(BulkJob)
            .where(
                BulkJob.status.in_(ACTIVE),
                or_(BulkJob.lease_until.is_(None), BulkJob.lease_until < tx.now),
            )
            .order_by(BulkJob.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for job in jobs:
            job.status = BulkStatus.PENDING.value
            job.lease_until = tx.now + PUBLISH_LEASE
            tx.new_bulk_jobs.append(job.id)
    if jobs:
        log.info("bulk jobs republished", extra={"count": len(jobs)})
    return len(jobs)
