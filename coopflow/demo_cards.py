"""Demonstration data of the card order: AD06's coops with a card in every lasting state
of ``card_order``, and the README's tour (a mandataire orders the card to the school;
AD06 records a card that came back to its office).

As for the rest of the demo the history is real. Each coop lives its story at its own
time (an engine whose clock starts that many days ago and moves forward with it): its
mandataire goes through Swan's identification and hands in a RIB (``demo_banking``),
its affiliation is sent and validated (``demo_transfer_moves``): the card may then be
ordered. Its moves follow: the request as the portal keeps it and fires it (to the
school, or elsewhere with its reason, for the AD to approve); the step ``order_card``
orders the card at the Swan sandbox, which answers ``ConsentPending``; the card then
moves at the sandbox (the mandataire consents and activates it, Swan prints and ships
it: ``SandboxSwan.simulate_card``), each ``Card.Updated`` event delivered as
``/webhooks/swan`` delivers it, and ``sync_card`` moves the case; staff record a card
returned to the AD, or cancel an order. The sandbox prints a card in three days; Coop
de Cimiez's it keeps printing (``sandbox_cards.make_late``: Swan's card maker late), so
that a card stays ``processing``. The steps run at each move (the emails made then),
and the scheduler's tick at the end of the demo fires what fell due: printing over 10
days, a card shipped 15 days ago and never activated.

``ordering`` lasts until the worker's next turn (the order is placed): no demo case
stays in it. Nor in ``waiting``: a card case starts, to order, when the identity is
verified, the account certified and this year's affiliation validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coopflow import demo_banking, demo_transfer
from coopflow.demo_transfer import Story
from coopflow.demo_transfer_moves import (
    AGENT,
    MOVES,
    Context,
    RunPending,
    _case_id,
    _staff,
)
from coopflow.runtime import Runtime
from workers.providers.swan import sandbox_cards
from workers.providers.swan.sandbox import SandboxSwan
from workflows import swan_events
from workflows.engine.engine import Actor, Engine
from workflows.models import Coop, Mandataire
from workflows.processes.card_order.definition import PRINTED_LINE_MAX, PROCESS
from workflows.processes.card_order.holder import embossed, printed_holder

#: The reason given for a card sent elsewhere than the school.
ELSEWHERE = "L'école est fermée pendant les travaux de l'été : la mairie reçoit le courrier."
CANCELLED = "Commande en double : la coopérative a déjà reçu sa carte l'an dernier."


def _story(
    number: str,
    coop: str,
    first_name: str,
    last_name: str,
    sees: str,
    days_ago: int,
    moves: tuple[tuple[int, str, Any], ...],
) -> Story:
    """A coop of AD06, its mandataire and what happens to its card: its banking done
    ``days_ago`` (identity verified, account certified), then each move ``(day, move,
    detail)`` that many days later (:data:`CARD_MOVES`); it has no account at La
    Banque Postale to move."""
    return Story(number, coop, first_name, last_name, sees, days_ago, "", moves)


# The moves -------------------------------------------------------------------------------


def _request(rt: Runtime, engine: Engine, at: Context, elsewhere: dict[str, str] | None) -> None:
    """The request as the portal keeps it (the school's address, or ``elsewhere`` with
    its reason), then ``request`` or ``request_elsewhere``."""
    with engine.transaction() as tx:
        case = tx.lock(_case_id(tx.session, at.coop_id, PROCESS))
        person = _person(tx.session, at.coop_id)
        coop = tx.session.get(Coop, at.coop_id)
        assert coop is not None
        school = {
            "line1": coop.street,
            "line2": "",
            "postal_code": coop.postal_code,
            "city": coop.city,
            "country": "FRA",
        }
        request: dict[str, Any] = {
            "address": school,
            "school_address": True,
            "printed_line": embossed(coop.name)[:PRINTED_LINE_MAX].rstrip(),
            "holder": printed_holder(person.first_name, person.last_name),
            "responsible": True,
            "requested_by": person.full_name,
            "requested_at": tx.now.isoformat(),
        }
        if elsewhere is not None:
            line1, reason = elsewhere["line1"], elsewhere["reason"]
            request |= {"address": {**school, "line1": line1}, "school_address": False}
            request["reason"] = reason
        case.data = {**(case.data or {}), "request": request}
        trigger = "request_elsewhere" if elsewhere is not None else "request"
        tx.fire(case.id, trigger, actor=Actor.mandataire(person))


def _swan(rt: Runtime, engine: Engine, at: Context, status: str) -> None:
    """The physical card moved to ``status`` at the Swan sandbox (the mandataire
    consented or activated it; Swan printed, shipped it), and the ``Card.Updated``
    event delivered as ``/webhooks/swan`` delivers it: its ``sync`` runs at the story's
    next turn (``sync_card`` reads the card and moves the case)."""
    sandbox = SandboxSwan(rt.db, engine.clock, base_url=rt.settings.base_url)
    for event in sandbox.simulate_card(_card_id(rt, at), status):
        with engine.transaction() as tx:
            swan_events.record(tx, swan_events.parse(event))


def _late(rt: Runtime, engine: Engine, at: Context, _: None) -> None:
    """Swan's card maker is late with this card: the sandbox keeps it printing (its
    three days never pass), so the polls find it ``Processing`` day after day."""
    card_id = _card_id(rt, at)
    with rt.db.write() as session:
        sandbox_cards.make_late(session, card_id)


def _card_id(rt: Runtime, at: Context) -> str:
    """The coop's card at Swan, as ``order_card`` tied it to the case."""
    with rt.db.read() as session:
        card_id = swan_events.tied(session, sandbox_cards.CARD, coop_id=at.coop_id)
    assert card_id is not None, at.number
    return card_id


def _returned(rt: Runtime, engine: Engine, at: Context, _: None) -> None:
    """The card arrived at AD06's office instead of the school: recorded as the case
    page's form records it."""
    with engine.transaction() as tx:
        agent = _staff(tx.session, AGENT)
        case = tx.lock(_case_id(tx.session, at.coop_id, PROCESS))
        received_on = tx.now.date().isoformat()
        case.data = {
            **(case.data or {}),
            "return": {"received_on": received_on, "by": agent.full_name},
        }
        tx.fire(
            case.id,
            "record_return",
            actor=Actor.staff(agent),
            payload={"received_on": received_on},
            comment="Carte reçue au courrier de l'AD, adressée à l'ancienne adresse de l'école.",
        )


def _cancel(rt: Runtime, engine: Engine, at: Context, comment: str) -> None:
    with engine.transaction() as tx:
        agent = _staff(tx.session, AGENT)
        tx.fire(
            _case_id(tx.session, at.coop_id, PROCESS),
            "cancel",
            actor=Actor.staff(agent),
            payload={"comment": comment},
            comment=comment,
        )


#: What a story's moves do, by name (the affiliation's among them).
CARD_MOVES: dict[str, Callable[[Runtime, Engine, Context, Any], None]] = {
    "affiliate": MOVES["affiliate"],
    "request": _request,
    "swan": _swan,
    "late": _late,
    "return": _returned,
    "cancel": _cancel,
}

_ORDER = ((0, "affiliate", None), (0, "request", None))
STORIES = [
    _story(
        "0060129E",
        "Coop Les Acacias",
        "Anne-Sophie",
        "Vasseur-Delmas",
        "carte à commander, nom imprimé abrégé (la visite guidée)",
        1,
        ((0, "affiliate", None),),
    ),
    _story(
        "0060130F",
        "Coop du Cours Saleya",
        "Bruno",
        "Lefort",
        "carte demandée à la mairie : l'AD approuve l'adresse",
        2,
        (
            (0, "affiliate", None),
            (1, "request", {"line1": "5 rue de l'Hôtel de Ville", "reason": ELSEWHERE}),
        ),
    ),
    _story(
        "0060131G",
        "Coop Les Mûriers",
        "Laura",
        "Vidal",
        "carte commandée : la banque attend votre accord (lien)",
        2,
        _ORDER,
    ),
    _story(
        "0060132H",
        "Coop de Cimiez",
        "Frédéric",
        "Aubert",
        "carte en fabrication depuis plus de 10 jours (bloqué : relancer la banque)",
        14,
        (*_ORDER, (1, "swan", "Processing"), (1, "late", None)),
    ),
    _story(
        "0060133J",
        "Coop Les Magnolias",
        "Sarah",
        "Colin",
        "carte envoyée (numéro de suivi) : à activer dès réception",
        5,
        (*_ORDER, (0, "swan", "Processing"), (3, "swan", "ToActivate")),
    ),
    _story(
        "0060134K",
        "Coop du Mont Alban",
        "Vincent",
        "Picard",
        "carte envoyée il y a 20 jours, pas activée (bloqué : relancer)",
        24,
        (*_ORDER, (0, "swan", "Processing"), (4, "swan", "ToActivate")),
    ),
    _story(
        "0060135L",
        "Coop Les Palmiers",
        "Audrey",
        "Noël",
        "carte activée : le code PIN, la responsabilité de la carte",
        12,
        (
            *_ORDER,
            (1, "swan", "Processing"),
            (5, "swan", "ToActivate"),
            (9, "swan", "Activated"),
        ),
    ),
    _story(
        "0060136M",
        "Coop de Riquier",
        "Cédric",
        "Marchetti",
        "carte revenue à l'AD (bloqué : à renvoyer ou à remettre)",
        10,
        (*_ORDER, (0, "swan", "Processing"), (3, "swan", "ToActivate"), (7, "return", None)),
    ),
    _story(
        "0060137N",
        "Coop Les Bougainvilliers",
        "Pauline",
        "Rossi",
        "commande de carte annulée par l'AD",
        6,
        (*_ORDER, (0, "swan", "Processing"), (3, "cancel", CANCELLED)),
    ),
]


def load(rt: Runtime, run_pending: RunPending) -> None:
    """Each story at its own time, as the transfer's are told (``demo_transfer.load``)."""
    demo_transfer.load(rt, run_pending, STORIES, CARD_MOVES)


def _person(session: Session, coop_id: int) -> Mandataire:
    return session.scalars(select(Mandataire).where(Mandataire.coop_id == coop_id)).one()


#: The portal logins of these stories: (email, password, what they see).
LOGINS = [
    (demo_banking._email(story.stage()), demo_banking.PASSWORD, story.sees) for story in STORIES
]
