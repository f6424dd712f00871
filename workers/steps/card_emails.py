"""Emails of ``card_order`` to the coop's mandataire: the card shipped (with its
tracking number and estimated delivery when Swan gave them, and, when it came back to
the AD first, whether the AD sent it on or handed it over), activated (how to find the
PIN, the mandataire responsible for the card: seed 002), back at the AD, the delivery
address refused (the reason staff wrote), and the reminders (consent to give, card to
activate). Each is sent once per step (its idempotency key), as every process's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workers.context import StepContext
from workers.email_delivery import deliver_for_step
from workers.email_messages import Composed
from workers.steps.case_emails import case_email, load_case
from workers.steps.notifications import notify_mandataire
from workers.steps.paper import NO_MANDATAIRE, day_of, kept, mandataire_email, portal_link
from workflows.engine.errors import PermanentStepError
from workflows.engine.steps import Outcome
from workflows.mandataires import latest_with_account
from workflows.models import Case, CaseEvent
from workflows.processes.card_order.definition import (
    CONSENT_PENDING,
    DEFINITION,
    HAND_OVER,
    RESEND,
    SHIPPED,
)

NO_REASON = "Le motif du refus de l'adresse n'est pas enregistré dans le dossier."
NO_RETURN = "Le jour où la carte est arrivée à l'AD n'est pas enregistré dans le dossier."
NO_REMINDER = "Aucun rappel à envoyer : la carte n'attend ni accord ni activation."


def card_of(case: Case) -> dict[str, Any]:
    """What Swan said of the card (``case.data["card"]``), its estimated delivery as
    « 12/11/2026 » (empty when unknown)."""
    card = dict((case.data or {}).get("card") or {})
    return {
        **card,
        "tracking_number": str(card.get("tracking_number") or "").strip(),
        "delivery_day": day_of(card.get("estimated_delivery")),
        "consent_url": str(card.get("consent_url") or "").strip(),
    }


def address_of(case: Case) -> dict[str, Any]:
    """The delivery address the request kept, and whether it is the school's."""
    request = (case.data or {}).get("request") or {}
    address = dict(request.get("address") or {})
    lines = [str(address.get(k) or "").strip() for k in ("line1", "line2") if address.get(k)]
    town = " ".join(
        str(address.get(k) or "").strip() for k in ("postal_code", "city") if address.get(k)
    )
    return {
        "lines": [line for line in [*lines, town] if line],
        "at_school": request.get("school_address") is True,
    }


def _entered_by(session: Session, case: Case, state: str) -> str | None:
    """The trigger of the last transition into ``state``."""
    return session.scalars(
        select(CaseEvent.trigger)
        .where(CaseEvent.case_id == case.id, CaseEvent.to_state == state)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    ).first()


def notify_shipped(ctx: StepContext) -> Outcome:
    """On its way: to the address of the request, tracked when Swan gave a number; when
    it came back to the AD first, sent on again by the AD or handed over (the bank's
    tracking number is then its first parcel's: not shown)."""

    def context(session: Session, case: Case) -> dict[str, Any]:
        fired = _entered_by(session, case, SHIPPED)
        again = fired if fired in (RESEND, HAND_OVER) else None
        back = kept(session, case, "return", "record_return") if again else {}
        return {
            "card": card_of(case),
            "address": address_of(case),
            "again": again,
            "received_on": day_of(back.get("received_on")),
        }

    def subject(session: Session, case: Case) -> str:
        fired = _entered_by(session, case, SHIPPED)
        if fired == HAND_OVER:
            return "La carte bancaire de {coop} vous a été remise : activez-la"
        if fired == RESEND:
            return "La carte bancaire de {coop} vous est renvoyée par votre AD"
        return "La carte bancaire de {coop} est envoyée"

    return _send(ctx, "shipped", subject, context)


def notify_activated(ctx: StepContext) -> Outcome:
    """Activated: where the PIN is, the mandataire responsible for the card."""
    return mandataire_email(ctx, DEFINITION, "activated", "La carte bancaire de {coop} est activée")


def notify_returned(ctx: StepContext) -> Outcome:
    """Back at the AD's office instead of the school: the AD sends it on or hands it
    over."""

    def context(session: Session, case: Case) -> dict[str, Any]:
        back = kept(session, case, "return", "record_return")
        received_on = day_of(back.get("received_on"))
        if not received_on:
            raise PermanentStepError(NO_RETURN)
        return {"received_on": received_on, "address": address_of(case)}

    return mandataire_email(
        ctx,
        DEFINITION,
        "returned",
        "La carte bancaire de {coop} est arrivée à votre AD",
        context,
    )


def notify_address_refused(ctx: StepContext) -> Outcome:
    """The delivery address refused: staff's reason; order again to the school's."""

    def context(session: Session, case: Case) -> dict[str, Any]:
        payload = session.scalars(
            select(CaseEvent.payload)
            .where(CaseEvent.case_id == case.id, CaseEvent.trigger == "refuse_address")
            .order_by(CaseEvent.id.desc())
            .limit(1)
        ).first()
        reason = str((payload or {}).get("reason") or "")
        if not reason.strip():
            raise PermanentStepError(NO_REASON)
        return {"reason": reason.strip(), "address": address_of(case)}

    return mandataire_email(
        ctx,
        DEFINITION,
        "address_refused",
        "Adresse de livraison de la carte de {coop} refusée",
        context,
    )


def send_reminder(ctx: StepContext) -> Outcome:
    """By state: the consent Swan waits for (its link when known), or the card to
    activate."""

    def context(_session: Session, case: Case) -> dict[str, Any]:
        if case.state not in (CONSENT_PENDING, SHIPPED):
            raise PermanentStepError(NO_REMINDER)
        return {"card": card_of(case), "consent": case.state == CONSENT_PENDING}

    def subject(_session: Session, case: Case) -> str:
        if case.state == CONSENT_PENDING:
            return "Rappel : donnez votre accord à la banque pour la carte de {coop}"
        return "Rappel : activez la carte bancaire de {coop}"

    return _send(ctx, "reminder", subject, context)


def _send(
    ctx: StepContext,
    kind: str,
    subject: Callable[[Session, Case], str],
    context: Callable[[Session, Case], dict[str, Any]],
) -> Outcome:
    """As ``mandataire_email``, its subject chosen by the case too (``{coop}`` in it)."""

    def build(session: Session) -> Composed:
        case = load_case(session, ctx.step.case_id)
        person = latest_with_account(session, case.coop_id)
        if person is None:
            raise PermanentStepError(NO_MANDATAIRE)
        extra = context(session, case)
        return case_email(
            DEFINITION.name,
            kind,
            subject(session, case),
            case,
            person,
            link=portal_link(ctx, DEFINITION),
            **extra,
        )

    delivery = deliver_for_step(ctx, build)
    return Outcome(result={"email_status": delivery.status})


#: The handler of each email step of the definition, by step name (``card_order``'s
#: STEPS adds the order and the sync).
STEPS = {
    "notify_mandataire": notify_mandataire,
    "notify_shipped": notify_shipped,
    "notify_activated": notify_activated,
    "notify_returned": notify_returned,
    "notify_address_refused": notify_address_refused,
    "send_reminder": send_reminder,
}

#: What this process sends (``templates/emails/card_order/``).
EMAILS = ("shipped", "activated", "returned", "address_refused", "reminder")
