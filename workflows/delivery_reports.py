"""Delivery reports of the mail relay: an address that bounces after the server first
accepted the message stops its invitation with the reason, without staff reading the
bounce mailbox.

The relay posts one JSON event per report (``web/webhooks/mail.py`` authenticates it)::

    {"eventId": "…", "eventType": "bounced" | "deferred" | "delivered",
     "eventDate": "2026-09-07T09:30:00Z", "messageId": "<…@coopflow.occe.coop>",
     "recipient": "…", "diagnostic": "550 5.1.1 … user unknown"}

Reports arrive at least once and out of order. Each is kept once by its ``eventId``
(a repeat changes nothing); a ``delivered`` report never undoes a bounce; a bounce
stops the invitation only while that invitation still uses the bounced address.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from workflows import event_fields
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import ConflictError, ValidationError
from workflows.models import Email, EmailStatus, Mandataire, WebhookEvent
from workflows.processes.invitation.definition import INVITED, SENDING
from workflows.processes.invitation.definition import PROCESS as INVITATION

log = logging.getLogger(__name__)

SOURCE = "mail"
#: Who the case history names for what the relay reported.
RELAY = Actor.system("serveur de messagerie")
#: An invitation in these states still waits on the email that bounced.
BOUNCEABLE = (SENDING, INVITED)


class MailEventType(enum.StrEnum):
    DELIVERED = "delivered"
    #: Temporary failure, the relay tries again: recorded only.
    DEFERRED = "deferred"
    #: Permanent failure: the address does not receive mail.
    BOUNCED = "bounced"


@dataclass(frozen=True)
class MailEvent:
    event_id: str
    type: MailEventType
    occurred_at: datetime
    message_id: str
    recipient: str
    diagnostic: str

    def payload(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "eventType": self.type.value,
            "eventDate": self.occurred_at.isoformat(),
            "messageId": self.message_id,
            "recipient": self.recipient,
            "diagnostic": self.diagnostic,
        }


@dataclass(frozen=True)
class Applied:
    """What became of a report: ``applied``, ``ignored`` (and why) or ``duplicate``."""

    outcome: str
    message: str = ""


def parse(document: Any) -> MailEvent:
    """The event of a decoded JSON document, or a :class:`ValidationError` listing every
    problem in French."""
    if not isinstance(document, dict):
        raise ValidationError("Le corps de la requête doit être un objet JSON.")
    errors: list[str] = []
    event_id = event_fields.text(document, "eventId", 200, errors, required=True)
    message_id = event_fields.text(document, "messageId", 200, errors, required=True)
    recipient = event_fields.text(document, "recipient", 254, errors)
    diagnostic = event_fields.text(document, "diagnostic", 1000, errors)
    raw_type = document.get("eventType")
    known = {t.value: t for t in MailEventType}
    event_type = known.get(raw_type) if isinstance(raw_type, str) else None
    if event_type is None:
        expected = ", ".join(t.value for t in MailEventType)
        errors.append(f"eventType inconnu : {_shown(raw_type)} (attendus : {expected}).")
    occurred_at = event_fields.moment(document.get("eventDate"), errors)
    if message_id and not _looks_like_message_id(message_id):
        errors.append("messageId invalide : un identifiant de message <…@…> est attendu.")
    if errors:
        raise ValidationError(errors)
    assert occurred_at is not None and event_type is not None
    return MailEvent(
        event_id=event_id,
        type=event_type,
        occurred_at=occurred_at,
        message_id=message_id if message_id.startswith("<") else f"<{message_id}>",
        recipient=recipient,
        diagnostic=diagnostic,
    )


def already_received(tx: UnitOfWork, event: MailEvent) -> bool:
    found = tx.session.scalar(
        select(WebhookEvent.id).where(
            WebhookEvent.source == SOURCE, WebhookEvent.event_id == event.event_id
        )
    )
    return found is not None


def apply(tx: UnitOfWork, event: MailEvent) -> Applied:
    """Keep the event and apply it, in the caller's transaction.

    The row is inserted first: a second delivery of the same event racing this one
    waits on the unique ``(source, event_id)`` and then fails, so it applies nothing
    (the caller answers « déjà reçu »)."""
    if already_received(tx, event):
        return Applied("duplicate", "Événement déjà reçu.")
    row = WebhookEvent(
        source=SOURCE,
        event_id=event.event_id,
        event_type=event.type.value,
        occurred_at=event.occurred_at,
        received_at=tx.now,
        payload=event.payload(),
        outcome="ignored",
    )
    tx.session.add(row)
    tx.session.flush()
    email = tx.session.scalars(
        select(Email).where(Email.message_id == event.message_id).limit(1)
    ).one_or_none()
    if email is None:
        result = Applied("ignored", "Message inconnu de coopflow.")
    else:
        row.email_id, row.case_id = email.id, email.case_id
        result = _apply_to_email(tx, event, email)
    row.outcome, row.outcome_message = result.outcome, result.message or None
    log.info(
        "mail event",
        extra={
            "event_id": event.event_id,
            "event_type": event.type.value,
            "email_id": row.email_id,
            "case_id": row.case_id,
            "outcome": result.outcome,
        },
    )
    return result


def _apply_to_email(tx: UnitOfWork, event: MailEvent, email: Email) -> Applied:
    # Any report means the relay has the message: one still ``sending`` (its worker died
    # before recording the server's answer) is sent, and its step will not send it again.
    if event.type is MailEventType.DEFERRED:
        if _accepted(tx, event, email, (EmailStatus.SENDING,), EmailStatus.SENT):
            return Applied("applied", "Retard de livraison : le relais a le message et réessaie.")
        return Applied("ignored", "Retard de livraison : le relais réessaie.")
    if event.type is MailEventType.DELIVERED:
        # Never over a bounce, whatever the order the reports arrive in.
        accepted = (EmailStatus.SENDING, EmailStatus.SENT)
        if _accepted(tx, event, email, accepted, EmailStatus.DELIVERED):
            return Applied("applied", "Email remis au destinataire.")
        return Applied("ignored", f"Email à l'état « {email.status} » : inchangé.")
    email.status = EmailStatus.BOUNCED.value
    email.error = event.diagnostic or "Adresse refusée par le serveur du destinataire."
    return Applied("applied", _stop_invitation(tx, event, email))


def _accepted(
    tx: UnitOfWork,
    event: MailEvent,
    email: Email,
    before: tuple[EmailStatus, ...],
    after: EmailStatus,
) -> bool:
    """Move the email from one of ``before`` to ``after``; whether it was in one."""
    changed = tx.session.execute(
        update(Email)
        .where(Email.id == email.id, Email.status.in_([status.value for status in before]))
        .values(status=after.value, sent_at=func.coalesce(Email.sent_at, event.occurred_at))
        .execution_options(synchronize_session=False)
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]


def _stop_invitation(tx: UnitOfWork, event: MailEvent, email: Email) -> str:
    """Fire ``bounce`` on the email's invitation if it still uses that address."""
    if email.case_id is None:
        return "Email marqué refusé."
    case = tx.lock(email.case_id)
    if case.process != INVITATION or case.state not in BOUNCEABLE:
        return "Email marqué refusé ; le dossier n'attend plus cet email."
    mandataire = tx.session.get(Mandataire, case.data.get("mandataire_id"))
    if mandataire is None or mandataire.email != email.to_address:
        return "Email marqué refusé ; l'adresse du mandataire a changé depuis."
    try:
        with tx.session.begin_nested():
            tx.fire(
                case.id,
                "bounce",
                actor=RELAY,
                payload={
                    "email": email.to_address,
                    "error": email.error,
                    "event_id": event.event_id,
                },
            )
    except ConflictError as exc:
        return f"Email marqué refusé ; {exc}"
    return "Email marqué refusé ; invitation arrêtée (adresse refusée)."


def _looks_like_message_id(value: str) -> bool:
    inner = value[1:-1] if value.startswith("<") and value.endswith(">") else value
    local, at, domain = inner.partition("@")
    return bool(local and at and domain) and not any(c in inner for c in "<> ")


def _shown(value: Any) -> str:
    text = str(value)
    return f"« {text[:40]} »" if value is not None else "absent"
