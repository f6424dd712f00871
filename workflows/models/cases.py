"""Cases of a process: their audit trail, their steps (the outbox) and timers, and the
tasks they give staff."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.models.base import Base, JSONData, utcnow

if TYPE_CHECKING:
    from workflows.models.people import AD, Coop, StaffUser


class Case(Base):
    """One run of one process for one coop; ``version`` is the optimistic lock."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_process_state", "process", "state"),
        Index("ix_cases_coop_process", "coop_id", "process"),
        Index("ix_cases_stuck", "stuck_reason", "stuck_since"),
        # The back-office lists: every case of an AD by state, the stuck ones oldest
        # first (partial: only stuck rows), keyset-paginated on (stuck_since, id).
        Index("ix_cases_ad_process_state", "ad_id", "process", "state"),
        Index(
            "ix_cases_ad_stuck_since",
            "ad_id",
            "stuck_since",
            "id",
            postgresql_where=text("stuck_since IS NOT NULL"),
            sqlite_where=text("stuck_since IS NOT NULL"),
        ),
        Index(
            "ix_cases_stuck_since",
            "stuck_since",
            "id",
            postgresql_where=text("stuck_since IS NOT NULL"),
            sqlite_where=text("stuck_since IS NOT NULL"),
        ),
        Index("ix_cases_assignee", "assignee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process: Mapped[str] = mapped_column(String(40))
    definition_version: Mapped[int] = mapped_column(Integer, default=1)
    #: Yearly processes: the school year, by the year it starts in (2026: 2026-2027).
    school_year: Mapped[int | None] = mapped_column(Integer, default=None)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coops.id"))
    #: The coop's AD, copied here (a coop never changes AD) so that scoping and the
    #: back-office filters use one index instead of a join on every list.
    ad_id: Mapped[int] = mapped_column(ForeignKey("ads.id"))
    state: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    state_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    stuck_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    stuck_message: Mapped[str | None] = mapped_column(Text, default=None)
    stuck_action: Mapped[str | None] = mapped_column(String(40), default=None)
    stuck_since: Mapped[datetime | None] = mapped_column(default=None)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)

    coop: Mapped[Coop] = relationship()
    ad: Mapped[AD] = relationship()
    assignee: Mapped[StaffUser | None] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    steps: Mapped[list[Step]] = relationship(back_populates="case", order_by="Step.id")

    def __str__(self) -> str:
        return f"{self.process} #{self.id}"


class CaseEvent(Base):
    """One line of a case's audit trail: who did what, from which state to which."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20), default="transition")
    trigger: Mapped[str | None] = mapped_column(String(40), default=None)
    from_state: Mapped[str | None] = mapped_column(String(40), default=None)
    to_state: Mapped[str | None] = mapped_column(String(40), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    comment: Mapped[str | None] = mapped_column(Text, default=None)

    case: Mapped[Case] = relationship(back_populates="events")


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Step(Base):
    """An outbox row: work a worker must do for a case, at least once, idempotently."""

    __tablename__ = "steps"
    __table_args__ = (
        Index("ix_steps_status_lease", "status", "lease_until"),
        Index("ix_steps_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    name: Mapped[str] = mapped_column(String(60))
    args: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=StepStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    #: Until when the current delivery or run owns the step; past it, the scheduler
    #: publishes the step again (lost message, killed worker, flushed broker).
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_traceback: Mapped[str | None] = mapped_column(Text, default=None)
    result: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    case: Mapped[Case] = relationship(back_populates="steps")


class Timer(Base):
    """A deadline of a case in its current state: fires a trigger or marks it stuck."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "closed_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime] = mapped_column()
    #: Set when the timer fired or its state was left.
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Task(Base):
    """Something a staff member must do for a case (review, validate, send letters),
    with a due date: past it, the scheduler marks the case stuck (SLA)."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_ad_status_due", "ad_id", "status", "due_at"),
        Index("ix_tasks_case", "case_id"),
        Index("ix_tasks_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    ad_id: Mapped[int] = mapped_column(ForeignKey("ads.id"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    #: The state whose entry opened the task (closed when the case leaves it), or
    #: ``None`` for a task opened by hand or by the portal.
    state: Mapped[str | None] = mapped_column(String(40), default=None)
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.OPEN.value)
    due_at: Mapped[datetime] = mapped_column()
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    #: When the scheduler found it past due and marked the case stuck (once).
    overdue_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_by: Mapped[str | None] = mapped_column(String(80), default=None)

    case: Mapped[Case] = relationship()
    assignee: Mapped[StaffUser | None] = relationship()
