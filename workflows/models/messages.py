"""What leaves and comes back: single-use links, emails, outside systems' webhooks."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.models.base import Base, JSONData, utcnow

if TYPE_CHECKING:
    from workflows.models.people import Coop, Mandataire


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
