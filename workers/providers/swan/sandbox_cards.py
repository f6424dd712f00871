"""The simulated Swan's cards (kept in ``swan_sandbox_objects`` like the rest of its
world): a membership's cards (kind ``card``, parent the membership) and their physical
cards (kind ``physical_card``, parent the card; one row per physical card Swan made, so
the fault suite counts them). Used by :class:`~workers.providers.swan.sandbox.SandboxSwan`.

A physical card goes ``ConsentPending`` (the mandataire consents on Swan's page) →
``Processing`` → ``ToActivate`` (shipped: tracking number, estimated delivery) →
``Activated``, then maybe ``Suspended``, ``ToRenew``, ``Renewed``; ``Canceling`` and
``Canceled`` from any status before. :func:`move` makes one of these moves (what the
person or Swan's card maker did); :func:`advance` makes those whose delay
(:data:`DELAYS`) has passed, as Swan's own progress would, each answered by the
``Card.Updated`` event Swan sends.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

import workers.providers.swan.sandbox_world as world
from workers.providers.swan.errors import SwanRejected
from workers.providers.swan.interface import Card, CardOrder
from workflows.models.banking import SandboxObject

CARD, PHYSICAL = "card", "physical_card"
CARD_UPDATED, CARD_CREATED = "Card.Updated", "Card.Created"
ALREADY_VALID = "AlreadyValidPhysicalCardRejection"

#: The moves Swan allows, from each physical card status.
MOVES: dict[str, tuple[str, ...]] = {
    "ConsentPending": ("Processing", "Canceled"),
    "Processing": ("ToActivate", "Canceling", "Canceled"),
    "ToActivate": ("Activated", "Canceling", "Canceled"),
    "Activated": ("Suspended", "ToRenew", "Canceling", "Canceled"),
    "Suspended": ("Activated", "Canceling", "Canceled"),
    "ToRenew": ("Renewed", "Canceled"),
    "Renewed": ("Activated", "Canceled"),
    "Canceling": ("Canceled",),
    "Canceled": (),
}
#: How long Swan takes by itself: printing, then shipping (the consent and the
#: activation are the mandataire's, made with :func:`move`).
DELAYS = {"Processing": ("ToActivate", timedelta(days=3))}
#: Marks a physical card whose delay never passes (:func:`make_late`).
LATE = "late"
#: Where the sandbox's consent page would be (under the platform's address).
CONSENT_PATH = "/sandbox/swan/card"
#: How long the post takes once shipped (the estimated delivery date).
DELIVERY = timedelta(days=4)


def physical_of(session: Session, card_id: str) -> SandboxObject | None:
    """The card's newest physical card (a canceled one stays, a reprint comes after)."""
    rows = world.children(session, card_id, PHYSICAL)
    return max(rows, key=lambda r: (r.created_at, r.data.get("seq", 0)), default=None)


def card_of(session: Session, row: SandboxObject, base_url: str) -> Card:
    physical = physical_of(session, row.id)
    if physical is None:
        return Card(id=row.id, membership_id=row.parent_id or "")
    delivery = physical.data.get("estimated_delivery")
    status = physical.status
    return Card(
        id=row.id,
        membership_id=row.parent_id or "",
        physical_status=status,
        consent_url=_consent_url(row.id, physical, base_url)
        if status == "ConsentPending"
        else None,
        tracking_number=physical.data.get("tracking_number") if status == "ToActivate" else None,
        estimated_delivery=(
            datetime.fromisoformat(delivery).date() if delivery and status == "ToActivate" else None
        ),
        pin_ready=status == "ToActivate" and bool(physical.data.get("pin_ready")),
    )


def _consent_url(card_id: str, physical: SandboxObject, base_url: str) -> str:
    """The sandbox's stand-in for Swan's consent page (keyed by the card, as its
    events are), back to the order's ``consentRedirectUrl``."""
    query = urlencode({"redirect": physical.data.get("consent_redirect_url") or ""})
    return f"{base_url}{CONSENT_PATH}/{card_id}?{query}"


def cards(session: Session, membership_id: str, base_url: str) -> list[Card]:
    world.row_of(session, membership_id, world.MEMBERSHIP)
    rows = sorted(world.children(session, membership_id, CARD), key=lambda r: r.created_at)
    return [card_of(session, row, base_url) for row in rows]


def order(session: Session, wanted: CardOrder, now: datetime, base_url: str) -> Card:
    """``printPhysicalCard`` on the membership's card, or ``addCards`` with a physical
    card when it has none; one order at a time per membership (its row locked)."""
    _check(wanted)
    world.row_of(session, wanted.membership_id, world.MEMBERSHIP, lock=True)
    existing = sorted(
        world.children(session, wanted.membership_id, CARD), key=lambda r: r.created_at
    )
    if existing:
        card = existing[0]
        physical = physical_of(session, card.id)
        if physical is not None and physical.status != "Canceled":
            raise SwanRejected(
                f"{world.NAME} : cette carte a déjà une carte physique valide.",
                code=ALREADY_VALID,
            )
    else:
        card = SandboxObject(
            id=f"sbx_card_{secrets.token_hex(8)}",
            kind=CARD,
            parent_id=wanted.membership_id,
            status="ConsentPending",
            data={},
            created_at=now,
            updated_at=now,
        )
        session.add(card)
    seq = len(world.children(session, card.id, PHYSICAL)) + 1
    session.add(
        SandboxObject(
            id=f"sbx_pcard_{secrets.token_hex(8)}",
            kind=PHYSICAL,
            parent_id=card.id,
            status="ConsentPending",
            data={
                "seq": seq,
                "address": _address(wanted),
                "printed_line": wanted.printed_line,
                "consent_redirect_url": wanted.consent_redirect_url,
            },
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()
    return card_of(session, card, base_url)


def move(session: Session, card_id: str, status: str, now: datetime) -> bool:
    """Move the card's physical card to ``status`` (a move Swan allows, else refused);
    ``False`` when it is there already (nothing changes, no event)."""
    world.row_of(session, card_id, CARD, lock=True)
    physical = physical_of(session, card_id)
    if physical is None:
        raise SwanRejected(f"{world.NAME} : cette carte n'a pas de carte physique.")
    if physical.status == status:
        return False
    if status not in MOVES.get(physical.status, ()):
        raise SwanRejected(
            f"{world.NAME} : une carte physique « {physical.status} » ne passe pas à « {status} »."
        )
    data: dict[str, Any] = dict(physical.data)
    if status == "ToActivate":
        data["tracking_number"] = f"6A{secrets.randbelow(10**11):011d}"
        data["estimated_delivery"] = (now + DELIVERY).isoformat()
        data["pin_ready"] = True
    physical.status, physical.data, physical.updated_at = status, data, now
    return True


def catch_up(session: Session, card_id: str, now: datetime) -> None:
    """The moves of this card whose delay has passed (a read of the card sees Swan's
    progress since, as the polls would)."""
    physical = physical_of(session, card_id)
    while physical is not None and physical.status in DELAYS and not physical.data.get(LATE):
        to, delay = DELAYS[physical.status]
        if physical.updated_at > now - delay or not move(session, card_id, to, now):
            return


def make_late(session: Session, card_id: str) -> None:
    """Swan's card maker late with this card (the demo's card printed for over 10
    days): its delay never passes, it stays where it is until :func:`move` moves it."""
    world.row_of(session, card_id, CARD, lock=True)
    physical = physical_of(session, card_id)
    if physical is None or physical.status not in DELAYS:
        raise SwanRejected(f"{world.NAME} : cette carte n'est pas en fabrication.")
    physical.data = {**physical.data, LATE: True}


def advance(session: Session, now: datetime) -> list[str]:
    """Make the moves whose delay has passed; the cards moved."""
    moved: list[str] = []
    for status, (to, delay) in DELAYS.items():
        query = select(SandboxObject).where(
            SandboxObject.kind == PHYSICAL,
            SandboxObject.status == status,
            SandboxObject.updated_at <= now - delay,
        )
        for physical in session.scalars(query.with_for_update(skip_locked=True)):
            assert physical.parent_id is not None
            if not physical.data.get(LATE) and move(session, physical.parent_id, to, now):
                moved.append(physical.parent_id)
    return moved


def _check(wanted: CardOrder) -> None:
    a = wanted.address
    limits = (
        ("addressLine1", a.line1, 38, True),
        ("addressLine2", a.line2, 38, False),
        ("city", a.city, 30, True),
        ("postalCode", a.postal_code, 10, True),
        ("physicalCardCustomOptions.additionalPrintedLine", wanted.printed_line, 26, False),
    )
    bad = [
        name
        for name, value, maximum, required in limits
        if len(value) > maximum or (required and not value.strip())
    ]
    if a.country != "FRA":
        bad.append("country")
    if not wanted.consent_redirect_url:
        bad.append("consentRedirectUrl")
    if bad:
        raise SwanRejected(
            f"{world.NAME} : commande de carte refusée ({', '.join(bad)}).",
            code="ValidationRejection",
            fields=tuple(bad),
        )


def _address(wanted: CardOrder) -> dict[str, str]:
    a = wanted.address
    return {
        "addressLine1": a.line1,
        "addressLine2": a.line2,
        "city": a.city,
        "postalCode": a.postal_code,
        "country": a.country,
    }
