"""Composing and delivering emails exactly once per step.

The message is written to the ``emails`` table (status ``sending``) in the same
transaction as whatever it links to, before the mail server is contacted; a
redelivered step finds that row and sends the very same message again only if the
first attempt never completed, with the same Message-ID, so receivers can dedupe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from workers.errors import MailRefused
from workers.mail import Mailer
from workflows.engine import Engine
from workflows.formatting import date_fr, datetime_fr
from workflows.models import Email, EmailStatus

log = logging.getLogger(__name__)

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "emails"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["date_fr"] = date_fr
_templates.filters["datetime_fr"] = datetime_fr


@dataclass(frozen=True)
class Composed:
    """An email ready to be stored: who, what, and both bodies."""

    kind: str
    to: str
    subject: str
    text: str
    html: str
    case_id: int | None = None
    coop_id: int | None = None


def compose(kind: str, to: str, subject: str, **context: Any) -> Composed:
    """Render ``<kind>.txt`` and ``<kind>.html`` with the same context."""
    context = {"subject": subject, **context}
    return Composed(
        kind=kind,
        to=to,
        subject=subject,
        text=_templates.get_template(f"{kind}.txt").render(context),
        html=_templates.get_template(f"{kind}.html").render(context),
        case_id=context.get("case_id"),
        coop_id=context.get("coop_id"),
    )


@dataclass(frozen=True)
class Delivery:
    status: str
    to: str
    error: str | None = None

    @property
    def refused(self) -> bool:
        return self.status == EmailStatus.REFUSED.value


def deliver(
    engine: Engine,
    mailer: Mailer,
    *,
    key: str,
    sender: str,
    build: Callable[[Session], Composed],
) -> Delivery:
    """Send the email of idempotency ``key`` once. ``build`` runs (in the transaction
    that stores the message) only the first time."""
    with engine.transaction() as tx:
        row = tx.session.scalars(select(Email).where(Email.idempotency_key == key)).one_or_none()
        if row is None:
            composed = build(tx.session)
            row = Email(
                idempotency_key=key,
                kind=composed.kind,
                case_id=composed.case_id,
                coop_id=composed.coop_id,
                to_address=composed.to,
                subject=composed.subject,
                text_body=composed.text,
                html_body=composed.html,
                message_id=make_msgid(domain="coopflow.occe.coop"),
                status=EmailStatus.SENDING.value,
                created_at=tx.now,
            )
            tx.session.add(row)
            tx.session.flush()
        email_id, status = row.id, row.status
        message = _message(row, sender)
    if status != EmailStatus.SENDING.value:
        return Delivery(status, row.to_address, row.error)

    try:
        mailer.send(message)
    except MailRefused as exc:
        _record_after_send(engine, email_id, EmailStatus.REFUSED.value, str(exc))
        log.warning("email refused", extra={"email_id": email_id, "case_id": row.case_id})
        return Delivery(EmailStatus.REFUSED.value, row.to_address, str(exc))
    _record_after_send(engine, email_id, mailer.delivered_status, None)
    log.info("email delivered", extra={"email_id": email_id, "case_id": row.case_id})
    return Delivery(mailer.delivered_status, row.to_address)


#: Pause between two attempts at recording what the mail server answered.
RECORD_RETRY_SECONDS = 0.5


def _record_after_send(engine: Engine, email_id: int, status: str, error: str | None) -> None:
    """Record the server's answer, waiting out a database outage (restart, failover).

    The server has the message now: if recording failed for good, the step would be
    delivered again, find the email still ``sending`` and send it a second time (found
    by the fault-injection suite: a PostgreSQL restart re-sent the emails in flight).
    Nobody can take the step over while the database is down, so trying for as long as
    this run's lease covers it closes that window but for a crash of the process.
    """
    deadline = time.monotonic() + engine.timing.run_lease.total_seconds()
    while True:
        try:
            _record(engine, email_id, status, error)
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() + RECORD_RETRY_SECONDS > deadline:
                raise
            log.warning("recording a sent email failed, retrying", extra={"email_id": email_id})
            time.sleep(RECORD_RETRY_SECONDS)


#: Statuses from the relay's delivery reports, never overwritten by our own record.
_REPORTED = (EmailStatus.DELIVERED.value, EmailStatus.BOUNCED.value)


def _record(engine: Engine, email_id: int, status: str, error: str | None) -> None:
    with engine.transaction() as tx:
        row = tx.session.get(Email, email_id)
        assert row is not None
        if row.status in _REPORTED:
            return  # the relay's report (webhook) came first and says more
        row.status = status
        row.error = error
        row.sent_at = tx.now if error is None else None


def _message(row: Email, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Message-ID"] = row.message_id
    message["Date"] = format_datetime(row.created_at)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    return message
