"""``card_order`` cases brought to a state as the portal, the workers and staff would
(their transitions fired in order, what each form keeps in the case): what the tests of
every layer start from."""

from __future__ import annotations

from typing import Any

from tests.helpers import case_of
from tests.transfer_helpers import SYSTEM, affiliated, banking_done
from workflows.engine.engine import Actor, Engine
from workflows.engine.scheduling import tick
from workflows.models import AD, Case, Mandataire
from workflows.processes.card_order.definition import DEFINITION as CARD

STAFF = Actor("staff", None, "Claire Agent")
SCHOOL = {"line1": "4 avenue Thiers", "line2": "", "postal_code": "06000", "city": "Nice"}


def to_order(engine: Engine, ad: AD) -> tuple[Mandataire, Case]:
    """A mandataire (with a password) whose coop may order its card: identity verified,
    account certified, this year's affiliation validated; the card ``to_order``."""
    mandataire = banking_done(engine, ad)
    affiliated(engine, mandataire.coop_id)  # set directly: the scheduler's sweep starts it
    tick(engine)
    return mandataire, case_of(engine, mandataire.coop_id, CARD.name)


def request_of(mandataire: Mandataire, **changes: Any) -> dict[str, Any]:
    """What the portal keeps of an order to the school (``changes`` over it)."""
    return {
        "address": {**SCHOOL, "country": "FRA"},
        "school_address": True,
        "printed_line": "COOP ECOLE THIERS",
        "holder": mandataire.full_name.upper()[:20],
        "responsible": True,
        "requested_by": mandataire.full_name,
        "requested_at": "2026-10-05T08:00:00+00:00",
        **changes,
    }


#: The states :func:`card_at` reaches, in order, and the trigger that leads to each.
PATH = (
    ("ordering", "request"),
    ("consent_pending", "consent_needed"),
    ("processing", "printing"),
    ("shipped", "shipped_by_swan"),
    ("activated", "activate"),
)


def card_at(engine: Engine, ad: AD, state: str, mandataire: Mandataire | None = None) -> Case:
    """A card order brought to ``state`` (``to_order``, ``requested`` — another address
    waiting for staff —, one of :data:`PATH`, ``returned_to_ad`` or ``cancelled``), in
    one transaction: the steps of the states passed are cancelled, not run (no card is
    ordered at Swan); those of ``state`` run once it commits, when a worker runs."""
    if mandataire is None:
        mandataire, case = to_order(engine, ad)
    else:
        case = case_of(engine, mandataire.coop_id, CARD.name)
    me = Actor.mandataire(mandataire)
    with engine.transaction() as tx:
        locked = tx.lock(case.id)
        if state == "to_order":
            pass
        elif state == "requested":
            locked.data = {
                **(locked.data or {}),
                "request": request_of(
                    mandataire,
                    address={**SCHOOL, "line1": "9 rue Droite", "country": "FRA"},
                    school_address=False,
                    reason="L'école est fermée pendant les vacances.",
                ),
            }
            tx.fire(case.id, "request_elsewhere", actor=me)
        else:
            locked.data = {**(locked.data or {}), "request": request_of(mandataire)}
            last = {"returned_to_ad": "shipped", "cancelled": "processing"}.get(state, state)
            for reached, trigger in PATH:
                tx.fire(case.id, trigger, actor=me if trigger == "request" else SYSTEM)
                if reached == last:
                    break
            if state == "returned_to_ad":
                tx.fire(
                    case.id, "record_return", actor=STAFF, payload={"received_on": "2026-11-20"}
                )
            elif state == "cancelled":
                tx.fire(case.id, "cancel", actor=STAFF, payload={"comment": "Doublon."})
    found = case_of(engine, mandataire.coop_id, CARD.name)
    assert found.state == state, (found.state, state)
    return found
