"""Bulk actions of staff: the job and one item per case."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.models.base import Base, JSONData, utcnow

if TYPE_CHECKING:
    from workflows.models.people import StaffUser


class BulkStatus(enum.StrEnum):
    #: Selected and shown to the staff member, not confirmed yet: never processed.
    DRAFT = "draft"
    #: Waiting for a worker (between two batches too).
    PENDING = "pending"
    #: A worker is processing a batch; ``lease_until`` says until when it owns the job.
    RUNNING = "running"
    DONE = "done"


class BulkItemStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"


class BulkJob(Base):
    """One bulk action of a staff member over the cases selected when it was asked."""

    __tablename__ = "bulk_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``fire`` (with ``trigger``), ``retry_step``, ``assign``, ``cancel``.
    action: Mapped[str] = mapped_column(String(30))
    params: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    #: What the staff member selected, in French (« 12 dossiers cochés », a filter).
    description: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    status: Mapped[str] = mapped_column(String(20), default=BulkStatus.PENDING.value)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Past it, the scheduler hands the job to a worker again (lost message, dead worker).
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    staff: Mapped[StaffUser] = relationship()


class BulkItem(Base):
    """One selected case of a bulk job and what happened to it."""

    __tablename__ = "bulk_items"
    __table_args__ = (
        UniqueConstraint("job_id", "case_id", name="uq_bulk_items_job_case"),
        Index("ix_bulk_items_job_status", "job_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("bulk_jobs.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    #: The case's version when it was selected: acting on a case that changed since is
    #: decided again at that moment, never assumed.
    selected_version: Mapped[int] = mapped_column(Integer)
    #: ``pending``, ``done`` or ``skipped``.
    status: Mapped[str] = mapped_column(String(20), default="pending")
    message: Mapped[str | None] = mapped_column(Text, default=None)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
