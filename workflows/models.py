"""The tables: cooperatives and people, cases with their audit trail, steps, timers.

Times are stored in UTC (timezone-aware in Python, on both SQLite and PostgreSQL).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp always handed to Python as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONData = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONData}


class StaffRole(enum.StrEnum):
    NATIONAL = "national"
    AD = "ad"
    READONLY = "readonly"


class AD(Base):
    """An association départementale (AD06, AD35, AD50...) and its own settings."""

    __tablename__ = "ads"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    #: The academies' domains a mandataire's login email must belong to.
    academic_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    invitation_validity_days: Mapped[int] = mapped_column(Integer, default=7)
    password_min_length: Mapped[int] = mapped_column(Integer, default=8)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __str__(self) -> str:
        return self.code


class Coop(Base):
    """A coopérative scolaire, keyed by its AD and affiliation number."""

    __tablename__ = "coops"
    __table_args__ = (
        UniqueConstraint("ad_id", "affiliation_number", name="uq_coops_ad_affiliation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ad_id: Mapped[int] = mapped_column(ForeignKey("ads.id"), index=True)
    affiliation_number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    school_name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(300), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    school_email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    ad: Mapped[AD] = relationship(lazy="joined")
    mandataires: Mapped[list[Mandataire]] = relationship(back_populates="coop")

    def __str__(self) -> str:
        return f"{self.name} ({self.affiliation_number})"


class Mandataire(Base):
    """The teacher who runs a coop and logs in to the portal with their academic email."""

    __tablename__ = "mandataires"

    id: Mapped[int] = mapped_column(primary_key=True)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coops.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    password_set_at: Mapped[datetime | None] = mapped_column(default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    coop: Mapped[Coop] = relationship(back_populates="mandataires", lazy="joined")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"


class StaffUser(Base):
    """An OCCE staff member using the back-office."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default=StaffRole.AD.value)
    ad_id: Mapped[int | None] = mapped_column(ForeignKey("ads.id"), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    ad: Mapped[AD | None] = relationship(lazy="joined")

    def __str__(self) -> str:
        return self.full_name


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


class Token(Base):
    """A single-use link (invitation, password reset); the link carries a signed id+nonce."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(30))
    nonce: Mapped[str] = mapped_column(String(64))
    mandataire_id: Mapped[int] = mapped_column(ForeignKey("mandataires.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    mandataire: Mapped[Mandataire] = relationship(lazy="joined")


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


class Document(Base):
    """A document a person signs or keeps (a PDF rendered by a step), served to the
    coop's mandataire and to staff of its AD."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_coop", "coop_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The step that rendered it: a step run twice stores one document.
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coops.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100), default="application/pdf")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmailStatus(enum.StrEnum):
    SENDING = "sending"
    STORED = "stored"
    SENT = "sent"
    REFUSED = "refused"
    #: Reported by the mail relay (webhook) after the server accepted it.
    DELIVERED = "delivered"
    BOUNCED = "bounced"


class Email(Base):
    """Every email coopflow sends, kept for the back-office (and, unsent, in embedded mode)."""

    __tablename__ = "emails"
    #: Delivery reports of the mail relay name the message by its Message-ID.
    __table_args__ = (Index("ix_emails_message_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None, index=True)
    coop_id: Mapped[int | None] = mapped_column(ForeignKey("coops.id"), default=None, index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=EmailStatus.SENDING.value)
    #: When a run last started handing the message to the server; cleared when the
    #: server answered it does not keep it. Set on a ``sending`` email: the server may
    #: have it (the run died before recording the answer).
    handed_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)

    coop: Mapped[Coop | None] = relationship()


class WebhookEvent(Base):
    """One event an outside system reported (mail relay; later Swan), kept once by its id:
    deliveries are at least once and out of order, so a repeat is recognised and ignored."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_webhook_events_source_event"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``mail``.
    source: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    #: ``applied`` (it changed something) or ``ignored`` (``outcome_message`` says why).
    outcome: Mapped[str] = mapped_column(String(20))
    outcome_message: Mapped[str | None] = mapped_column(Text, default=None)
    email_id: Mapped[int | None] = mapped_column(ForeignKey("emails.id"), default=None)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)


__all__ = [
    "AD",
    "Base",
    "BulkItem",
    "BulkItemStatus",
    "BulkJob",
    "BulkStatus",
    "Case",
    "CaseEvent",
    "Coop",
    "Document",
    "Email",
    "EmailStatus",
    "Mandataire",
    "StaffRole",
    "StaffUser",
    "Step",
    "StepStatus",
    "Task",
    "TaskStatus",
    "Timer",
    "Token",
    "WebhookEvent",
    "utcnow",
]


def table(model: type[Base]) -> Table:
    """The Core table of a model, for the statements of the hot paths (a step's
    completion, the audit trail) that need no ORM object per row."""
    return cast(Table, model.__table__)
