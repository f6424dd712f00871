"""Swan's webhook events: kept once by their ``eventId``, and turned into a ``sync`` of
the case their resource belongs to.

Swan posts ``{eventType, eventId, eventDate, projectId, resourceId}`` and nothing else
(PROVIDERS.md « Webhooks »): what changed is asked of Swan again by the case's sync
step, never read from the event. Deliveries are at least once, in no order and up to
ten minutes late; since the step re-queries the resource and only ever moves a case
forward, an event may come twice, late or out of order and change nothing more.
A transaction's event is the exception (:data:`READ_FIRST`): it names no case until
Swan is asked, so ``workflows/swan_transactions.py`` reads it first and then keeps it.

Used by ``web/webhooks/swan.py`` (authenticated there) and by the sandbox's simulator,
which delivers its events in-process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows import event_fields
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import ValidationError
from workflows.models import Case, ProviderResource, Step, StepStatus, WebhookEvent
from workflows.processes.card_order import definition as card_order
from workflows.processes.kyc import definition as kyc

log = logging.getLogger(__name__)

SOURCE = "swan"
PROVIDER = "swan"
#: Who the case history names for what Swan reported.
SWAN = Actor.system("Swan")

#: The events that make a case ask Swan again: the kind of resource their
#: ``resourceId`` is, and the process, trigger and step of the case it belongs to.
SYNCS: dict[str, tuple[str, str, str, str]] = {
    **{
        f"AccountMembership.{change}": ("membership", kyc.PROCESS, "sync", "sync_identification")
        for change in ("Created", "Updated", "Bound", "Disabled", "Suspended", "Resumed")
    },
    # A physical card's changes come as Card.Updated (there is no PhysicalCard.* event).
    **{
        f"Card.{change}": ("card", card_order.PROCESS, "sync", "sync_card")
        for change in ("Created", "Updated")
    },
}
#: Events Swan sends that no process of coopflow follows yet: kept, ignored.
NOT_FOLLOWED = frozenset(
    {
        "Transaction.Pending",
        "Transaction.Rejected",
        "Transaction.Canceled",
        "Consent.Granted",
        "Consent.Refused",
        "Consent.Expired",
        "Account.Updated",
        "Account.Closing",
        "Account.Closed",
    }
)

#: The events whose resource is read from Swan before they are kept, in the webhook's
#: request (``workflows/swan_transactions.py``: a transaction names no case until read).
READ_FIRST = frozenset({"Transaction.Booked"})

#: The longest event type kept (``webhook_events.event_type``).
TYPE_MAX = 40
ID_MAX = 200


@dataclass(frozen=True)
class Applied:
    """What became of an event: ``applied`` (a sync asked for), ``ignored`` (and why)
    or ``duplicate``; the same words as the mail relay's reports."""

    outcome: str
    message: str = ""


@dataclass(frozen=True)
class SwanEvent:
    event_id: str
    event_type: str
    occurred_at: datetime
    project_id: str
    resource_id: str

    def payload(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "eventType": self.event_type,
            "eventDate": self.occurred_at.isoformat(),
            "projectId": self.project_id,
            "resourceId": self.resource_id,
        }


def parse(document: Any) -> SwanEvent:
    """The event of a decoded JSON document, or a :class:`ValidationError` listing every
    problem in French. An event type coopflow does not know is accepted (kept, ignored):
    Swan adds types without notice."""
    if not isinstance(document, dict):
        raise ValidationError("Le corps de la requête doit être un objet JSON.")
    errors: list[str] = []
    event_id = event_fields.text(document, "eventId", ID_MAX, errors, required=True)
    event_type = event_fields.text(document, "eventType", TYPE_MAX, errors, required=True)
    project_id = event_fields.text(document, "projectId", ID_MAX, errors, required=True)
    resource_id = event_fields.text(document, "resourceId", ID_MAX, errors, required=True)
    occurred_at = event_fields.moment(document.get("eventDate"), errors)
    if errors:
        raise ValidationError(errors)
    assert occurred_at is not None
    return SwanEvent(event_id, event_type, occurred_at, project_id, resource_id)


def already_received(tx: UnitOfWork, event: SwanEvent) -> bool:
    found = tx.session.scalar(
        select(WebhookEvent.id).where(
            WebhookEvent.source == SOURCE, WebhookEvent.event_id == event.event_id
        )
    )
    return found is not None


#: What becomes of a kept event, in the caller's transaction: the outcome and its case.
Apply = Callable[[UnitOfWork, SwanEvent], tuple[Applied, int | None]]


def record(tx: UnitOfWork, event: SwanEvent, *, apply: Apply | None = None) -> Applied:
    """Keep the event and fire ``sync`` on its case, in the caller's transaction; the
    re-query itself is the sync step's work (the webhook answers at once). ``apply``
    does instead what an event of :data:`READ_FIRST` asks, its resource read already
    (``swan_transactions.receive``, the only way such an event comes in).

    The row is inserted first: a second delivery of the same event racing this one
    waits on the unique ``(source, event_id)`` and then fails, so it fires nothing (the
    caller answers « déjà reçu »)."""
    if apply is None and event.event_type in READ_FIRST:
        raise ValueError(f"{event.event_type} : à lire chez Swan d'abord (swan_transactions).")
    if already_received(tx, event):
        return Applied("duplicate", "Événement déjà reçu.")
    row = WebhookEvent(
        source=SOURCE,
        event_id=event.event_id,
        event_type=event.event_type,
        occurred_at=event.occurred_at,
        received_at=tx.now,
        payload=event.payload(),
        outcome="ignored",
    )
    tx.session.add(row)
    tx.session.flush()
    result, case_id = (apply or _sync)(tx, event)
    row.case_id = case_id
    row.outcome, row.outcome_message = result.outcome, result.message or None
    log.info(
        "swan event",
        extra={
            "event_id": event.event_id,
            "event_type": event.event_type,
            "case_id": case_id,
            "outcome": result.outcome,
        },
    )
    return result


def _sync(tx: UnitOfWork, event: SwanEvent) -> tuple[Applied, int | None]:
    """Fire ``sync`` on the case of the event's resource; what became of it, and the
    case (when the resource is one of coopflow's)."""
    followed = SYNCS.get(event.event_type)
    if followed is None:
        if event.event_type in NOT_FOLLOWED:
            return Applied("ignored", "Événement Swan que coopflow ne suit pas encore."), None
        return Applied("ignored", f"Type d'événement Swan inconnu : « {event.event_type} »."), None
    kind, process, trigger, step = followed
    resource = tx.session.scalars(
        select(ProviderResource).where(
            ProviderResource.provider == PROVIDER,
            ProviderResource.resource_id == event.resource_id,
        )
    ).one_or_none()
    if resource is None or resource.kind != kind:
        return Applied("ignored", "Ressource Swan inconnue de coopflow."), None
    case = tx.lock(resource.case_id)
    if case.process != process:
        return Applied("ignored", "Ressource Swan d'une autre démarche."), case.id
    if _queued(tx, case.id, case.state, step):
        # A sync not yet started reads Swan after this event: one is enough.
        return Applied("applied", "Statut déjà demandé à Swan : demande en attente."), case.id
    definition = tx.engine.definition(process)
    # Asked of the definition rather than tried in a savepoint: a case already settled
    # (verified, refused) costs no round trip more.
    if trigger not in {t.trigger for t in definition.triggers_from(case.state, SWAN.kind)}:
        state = definition.label(case.state)
        return Applied("ignored", f"Dossier à l'état « {state} » : rien à demander à Swan."), (
            case.id
        )
    tx.fire(
        case.id,
        trigger,
        actor=SWAN,
        payload={"event_id": event.event_id, "event_type": event.event_type},
    )
    return Applied("applied", "Statut demandé à Swan."), case.id


def _queued(tx: UnitOfWork, case_id: int, state: str, step: str) -> bool:
    """Whether a ``step`` of the case's current state waits to run (not yet claimed:
    one already running may have read Swan before this event)."""
    waiting = tx.session.scalars(
        select(Step.args).where(
            Step.case_id == case_id,
            Step.name == step,
            Step.status == StepStatus.PENDING.value,
        )
    ).all()
    return any(args.get("state") == state for args in waiting)


# Swan's resources tied to cases ------------------------------------------------------------


def tie(tx: UnitOfWork, case: Case, kind: str, resource_id: str) -> None:
    """Tie Swan's resource to the case, so that an event naming it finds the case: once
    per resource (unique); one an older case of the coop had now belongs to this one."""
    found = tx.session.scalars(
        select(ProviderResource).where(
            ProviderResource.provider == PROVIDER, ProviderResource.resource_id == resource_id
        )
    ).one_or_none()
    if found is not None:
        found.case_id, found.coop_id = case.id, case.coop_id
        return
    try:
        with tx.session.begin_nested():
            tx.session.add(
                ProviderResource(
                    provider=PROVIDER,
                    resource_id=resource_id,
                    kind=kind,
                    case_id=case.id,
                    coop_id=case.coop_id,
                    created_at=tx.now,
                )
            )
    except IntegrityError:
        pass  # tied at the same instant by another run: the same resource, kept once


def tied(
    session: Session, kind: str, *, case_id: int | None = None, coop_id: int | None = None
) -> str | None:
    """The id of Swan's resource of ``kind`` tied last to the case (or to any case of
    the coop)."""
    query = select(ProviderResource.resource_id).where(
        ProviderResource.provider == PROVIDER, ProviderResource.kind == kind
    )
    if case_id is not None:
        query = query.where(ProviderResource.case_id == case_id)
    if coop_id is not None:
        query = query.where(ProviderResource.coop_id == coop_id)
    return session.scalar(query.order_by(ProviderResource.id.desc()).limit(1))
