"""Steps of ``card_order``: the card ordered from Swan (one per order, whatever fails),
its status asked again on each ``Card.Updated`` webhook and poll; the emails are
``card_emails``'.

Swan has no idempotency key on its card mutations, so :func:`order_card` never orders
without asking first. In its own transaction, before any call, it records its intent
(``case.data["order"]["intent_at"]``); then it asks Swan for the mandataire's
membership's cards: a physical card in any status but ``Canceled`` is adopted, not
ordered again (a message delivered twice, a retry after a timeout whose request reached
Swan, a worker killed between Swan's answer and the commit all find it there). Only
then does it order, and an ``AlreadyValidPhysicalCardRejection`` (two runs crossing) is
read as « already ordered »: the card is read again and adopted. What Swan answered is
written in the next transaction: the card tied to the case (``ProviderResource`` kind
``card``, so its webhooks find it), ``case.data["order"]`` and ``case.data["card"]``,
and the trigger of its physical card's status fired (``SWAN_STATUSES``).

:func:`sync_card` re-reads the card and moves the case only forward. Once the case is
final (``activated``) nothing syncs it: the portal reads the card's later statuses
(``Suspended``, ``ToRenew``, ``Renewed``) through the adapter at page time, by the id
kept in ``case.data["order"]["card_id"]`` (:func:`card_now`).
"""

from __future__ import annotations

import logging
from typing import Any

from workers.context import StepContext
from workers.providers.swan.errors import SwanRejected, SwanUnavailable
from workers.providers.swan.interface import Card, CardAddress, CardOrder, Swan
from workers.steps import card_emails
from workers.steps.case_emails import load_case
from workflows import swan_events
from workflows.engine.errors import PermanentStepError
from workflows.engine.steps import Outcome
from workflows.models import Case
from workflows.processes.card_order.definition import DEFINITION, SWAN_STATUSES

log = logging.getLogger(__name__)

CARD, MEMBERSHIP = "card", "membership"
#: Swan's answer when the card already has a valid physical card.
ALREADY_VALID = "AlreadyValidPhysicalCardRejection"
NO_MEMBERSHIP = (
    "Swan ne connaît pas encore le mandataire de cette coopérative (aucune adhésion au "
    "compte) : la carte ne peut pas être commandée."
)
NO_REQUEST = "La demande de carte (adresse de livraison) manque dans le dossier."


def _consent_return(ctx: StepContext) -> str:
    """Where Swan sends the mandataire back after consenting: the portal's card page."""
    return f"{ctx.services.settings.base_url.rstrip('/')}{DEFINITION.portal_path}"


# order_card --------------------------------------------------------------------------------


def order_card(ctx: StepContext) -> Outcome:
    """Order the card once (the module's docstring): intent, ask, order or adopt, keep."""
    with ctx.engine.transaction() as tx:
        case = tx.lock(ctx.step.case_id)
        if case.state != ctx.step.args.get("state"):
            return Outcome(result={"skipped": f"dossier passé à l'état {case.state}"})
        order = dict((case.data or {}).get("order") or {})
        if not order.get("intent_at"):
            order["intent_at"] = tx.now.isoformat()
            case.data = {**(case.data or {}), "order": order}
        membership_id = swan_events.tied(tx.session, MEMBERSHIP, coop_id=case.coop_id)
        request = dict((case.data or {}).get("request") or {})
    if not membership_id:
        raise PermanentStepError(NO_MEMBERSHIP)
    if not request.get("address"):
        raise PermanentStepError(NO_REQUEST)
    swan = ctx.services.swan
    known = order.get("card_id")
    card = swan.card(str(known)) if known else _existing(swan, membership_id)
    ordered = False
    if card is None or not card.has_physical:
        try:
            card = swan.order_card(_order_of(ctx, membership_id, request))
            ordered = True
        except SwanRejected as exc:
            if exc.code != ALREADY_VALID:
                raise
            # Ordered by a run that crossed this one: read it and adopt it.
            card = _existing(swan, membership_id)
            if card is None:
                raise SwanUnavailable(
                    "Swan dit la carte déjà commandée mais ne la montre pas encore.",
                    uncertain=True,
                ) from exc
    log.info(
        "card order",
        extra={**ctx.log_extra, "card_id": card.id, "ordered": ordered},
    )
    return _keep(ctx, card, ordered=ordered)


def _existing(swan: Swan, membership_id: str) -> Card | None:
    """The membership's card that has a physical card (any status but ``Canceled``),
    else its first card (printed on rather than a new card added), else ``None``."""
    cards = swan.cards(membership_id)
    return next((c for c in cards if c.has_physical), cards[0] if cards else None)


def _order_of(ctx: StepContext, membership_id: str, request: dict[str, Any]) -> CardOrder:
    address = request["address"]
    return CardOrder(
        membership_id=membership_id,
        address=CardAddress(
            line1=str(address.get("line1") or "").strip(),
            line2=str(address.get("line2") or "").strip(),
            city=str(address.get("city") or "").strip(),
            postal_code=str(address.get("postal_code") or "").strip(),
            country=str(address.get("country") or "FRA"),
        ),
        printed_line=str(request.get("printed_line") or "").strip(),
        consent_redirect_url=_consent_return(ctx),
    )


def _keep(ctx: StepContext, card: Card, *, ordered: bool) -> Outcome:
    """What Swan answered, in the case: the card tied, the order and the card noted;
    the trigger of its status when it moves the case forward."""
    with ctx.engine.transaction() as tx:
        case = tx.lock(ctx.step.case_id)
        if case.state != ctx.step.args.get("state"):
            return Outcome(result={"skipped": f"dossier passé à l'état {case.state}"})
        swan_events.tie(tx, case, CARD, card.id)
        order = dict((case.data or {}).get("order") or {})
        if order.get("card_id") != card.id:
            order.update(card_id=card.id, ordered_at=tx.now.isoformat(), adopted=not ordered)
        case.data = {**(case.data or {}), "order": order, "card": card_data(card)}
        trigger = forward(case, card.physical_status)
    result = {"card_id": card.id, "status": card.physical_status, "ordered": ordered}
    return Outcome(trigger, payload={"status": card.physical_status}, result=result)


def card_data(card: Card) -> dict[str, Any]:
    """``case.data["card"]`` of Swan's answer (the definition's keys)."""
    return {
        "status": card.physical_status,
        "consent_url": card.consent_url,
        "tracking_number": card.tracking_number,
        "estimated_delivery": (
            card.estimated_delivery.isoformat() if card.estimated_delivery else None
        ),
        "pin_ready": card.pin_ready,
    }


def forward(case: Case, status: str | None) -> str | None:
    """The trigger of Swan's ``status`` if it moves the case from where it is (only
    forward: a late or repeated status, or one after activation, moves nothing)."""
    trigger = SWAN_STATUSES.get(status or "")
    if trigger is None:
        return None
    candidates = DEFINITION.candidates(trigger, case.state)
    if not candidates or candidates[0].dest in (None, case.state):
        return None
    return trigger


# sync_card ---------------------------------------------------------------------------------


def sync_card(ctx: StepContext) -> Outcome:
    """Ask Swan where the card is, note it, and move the case forward if Swan says it
    is further along; a webhook twice, late or out of order changes nothing more."""
    with ctx.engine.db.read() as session:
        case = load_case(session, ctx.step.case_id)
        card_id = ((case.data or {}).get("order") or {}).get("card_id")
    if not card_id:
        # Not ordered yet: order_card's run reads the card when it is.
        return Outcome(result={"synced": False})
    card = ctx.services.swan.card(str(card_id))
    with ctx.engine.transaction() as tx:
        case = tx.lock(ctx.step.case_id)
        if case.state != ctx.step.args.get("state"):
            # Another sync moved the case while Swan answered: its answer may be the newer.
            return Outcome(result={"skipped": f"dossier passé à l'état {case.state}"})
        case.data = {**(case.data or {}), "card": card_data(card)}
        trigger = forward(case, card.physical_status)
    result = {"status": card.physical_status, "trigger": trigger}
    return Outcome(trigger, payload={"status": card.physical_status}, result=result)


def card_now(swan: Swan, case: Case) -> Card | None:
    """The case's card as Swan has it now (the portal's read once the case is final:
    a suspended card, one to renew); ``None`` when none was ordered or Swan cannot say."""
    card_id = ((case.data or {}).get("order") or {}).get("card_id")
    if not card_id:
        return None
    try:
        return swan.card(str(card_id))
    except (SwanRejected, SwanUnavailable):
        return None


STEPS = {
    **card_emails.STEPS,
    "order_card": order_card,
    "sync_card": sync_card,
}
EMAILS = card_emails.EMAILS
