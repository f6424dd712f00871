"""Composing and delivering emails exactly once per step.

The message is written to the ``emails`` table (status ``sending``) in the same
transaction as whatever it links to, before the mail server is contacted; a
redelivered step finds that row and never composes a second, different message. If the
first attempt may have reached the server (see :func:`deliver`), the relay's report on
its Message-ID decides whether the very same message goes out again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from workers.errors import MailRefused, MailRejected, MailUnavailable
from workers.mail import Mailer
from workflows.engine import Engine
from workflows.errors import StepPostponed
from workflows.formatting import date_fr, datetime_fr
from workflows.models import Email, EmailStatus

if TYPE_CHECKING:
    from workers.context import StepContext

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


def deliver_for_step(ctx: StepContext, build: Callable[[Session], Composed]) -> Delivery:
    """:func:`deliver` the email of the running step (its idempotency key)."""
    settings = ctx.services.settings
    return deliver(
        ctx.engine,
        ctx.services.mailer,
        key=ctx.step.idempotency_key,
        sender=settings.mail_from,
        build=build,
        report_wait=timedelta(seconds=settings.mail_report_wait_seconds),
    )


#: Shown on a step waiting for the relay's report of a message it may have sent.
UNCERTAIN = (
    "Envoi incertain : l'envoi précédent a été interrompu pendant la remise du message au "
    "serveur de messagerie ; en attente du rapport du serveur avant de le renvoyer."
)


def deliver(
    engine: Engine,
    mailer: Mailer,
    *,
    key: str,
    sender: str,
    build: Callable[[Session], Composed],
    report_wait: timedelta = timedelta(0),
) -> Delivery:
    """Send the email of idempotency ``key`` once. ``build`` runs (in the transaction
    that stores the message) only the first time.

    ``handed_at`` is committed before the server is contacted and cleared when the
    server certainly did not keep the message. Found still set by a later run, it means
    the previous run died (or lost the connection) while handing it over: the server
    may have it. That run then waits up to ``report_wait`` for the relay's report on
    the Message-ID (``workflows.mail_events`` marks the email sent), and sends again
    only if none came: the relay never had the message. Without reports
    (``report_wait`` zero) it sends again at once, and the receiver may get the same
    message (same Message-ID) twice.
    """
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
        elif row.status == EmailStatus.SENDING.value and row.handed_at is not None:
            _wait_for_report(row, tx.now, report_wait)
        if row.status == EmailStatus.SENDING.value:
            row.handed_at = tx.now
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
    except (MailUnavailable, MailRejected) as exc:
        if not (isinstance(exc, MailUnavailable) and exc.uncertain):
            _not_handed(engine, email_id)  # the server answered: it does not have it
        raise
    _record_after_send(engine, email_id, mailer.delivered_status, None)
    log.info("email delivered", extra={"email_id": email_id, "case_id": row.case_id})
    return Delivery(mailer.delivered_status, row.to_address)


def _wait_for_report(row: Email, now: datetime, report_wait: timedelta) -> None:
    """Postpone the step while the relay may still report the message handed over."""
    assert row.handed_at is not None
    waited = now - row.handed_at
    if waited < report_wait:
        raise StepPostponed(UNCERTAIN, min(report_wait - waited, report_poll(report_wait)))
    log.warning(
        "email sent again: no report of the previous attempt",
        extra={"email_id": row.id, "case_id": row.case_id, "waited_s": waited.total_seconds()},
    )


def report_poll(report_wait: timedelta) -> timedelta:
    """How often a step waiting for the relay's report looks again."""
    return min(max(report_wait / 10, timedelta(seconds=1)), timedelta(seconds=60))


def _not_handed(engine: Engine, email_id: int) -> None:
    """The server refused or never got the message: a later run sends it without waiting.
    (If this cannot be recorded, that run waits for a report that will not come, then
    sends: late, never twice.)"""
    with engine.transaction() as tx:
        tx.session.execute(
            update(Email)
            .where(Email.id == email_id, Email.status == EmailStatus.SENDING.value)
            .values(handed_at=None)
            .execution_options(synchronize_session=False)
        )


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


def _record(engine: Engine, email_id: int, status: str, error: str | None) -> None:
    """One conditional UPDATE: a relay report (webhook) that came first and says more
    (delivered, bounced) is never overwritten, even one committed meanwhile."""
    with engine.transaction() as tx:
        tx.session.execute(
            update(Email)
            .where(Email.id == email_id, Email.status == EmailStatus.SENDING.value)
            .values(status=status, error=error, sent_at=tx.now if error is None else None)
            .execution_options(synchronize_session=False)
        )


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
