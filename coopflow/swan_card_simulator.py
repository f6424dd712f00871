"""The sandbox's stand-in for Swan's card pages (``COOPFLOW_SWAN_MODE=sandbox`` only): the
consent the mandataire gives Swan for the card, what Swan's card maker does (print, ship)
and what the mandataire does with the card (activate it, three wrong PINs), one button
each, so the whole card order runs without Swan.

A button applies ``SandboxSwan.simulate_card`` and hands the ``Card.Updated`` event it
returns to ``workflows.swan_events`` (``swan_simulator._deliver``), as ``/webhooks/swan``
would. Like the identification page it is outside the portal (the card's random id is
its key), runs no script, and leads back only to the platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

import workers.providers.swan.sandbox_cards as cards
from coopflow.swan_simulator import _deliver, _return_url, _sandbox
from workers.providers.swan.errors import SwanRejected
from workers.providers.swan.interface import Card
from workflows.models.banking import SandboxObject

bp = Blueprint("swan_sandbox_cards", __name__, url_prefix="/sandbox/swan")


@dataclass(frozen=True)
class CardMove:
    label: str
    status: str
    #: The mandataire's own move, or Swan's.
    by_person: bool = False


#: The page's buttons, by their ``choice`` value, in the order shown (each shown only
#: where Swan allows it: :data:`sandbox_cards.MOVES`).
MOVES = {
    "consent": CardMove("Donner mon accord", "Processing", by_person=True),
    "activate": CardMove("Activer la carte reçue", "Activated", by_person=True),
    "wrong_pins": CardMove("Trois codes PIN faux", "Suspended", by_person=True),
    "ship": CardMove("Carte fabriquée et envoyée", "ToActivate"),
    "resume": CardMove("Carte débloquée", "Activated"),
    "cancel": CardMove("Carte annulée", "Canceled"),
}
STATUS_LABELS = {
    "ConsentPending": "Accord du titulaire attendu",
    "Processing": "En fabrication",
    "ToActivate": "Envoyée, à activer",
    "Activated": "Activée",
    "Suspended": "Bloquée",
    "Canceling": "En cours d'annulation",
    "Canceled": "Annulée",
    "ToRenew": "À renouveler",
    "Renewed": "Renouvelée",
}


def _card(card_id: str) -> Card:
    sandbox = _sandbox()
    with sandbox.db.read() as session:
        row = session.get(SandboxObject, card_id)
        if row is None or row.kind != cards.CARD:
            abort(404)
        return cards.card_of(session, row, sandbox.base_url)


@bp.get("/card/<card_id>")
def card_page(card_id: str) -> str:
    return _page(card_id)


@bp.post("/card/<card_id>")
def card_act(card_id: str) -> Response | tuple[str, int]:
    sandbox = _sandbox()
    _card(card_id)  # 404 for a card Swan does not know
    move = MOVES.get(request.form.get("choice", ""))
    if move is None:
        return _page(card_id, error="Choisissez l'un des boutons de la page."), 422
    try:
        events = sandbox.simulate_card(card_id, move.status)
    except SwanRejected as refused:
        return _page(card_id, error=str(refused)), 409
    _deliver(events)
    flash(
        f"C'est fait : « {move.label} ». Swan a prévenu la plateforme."
        if events
        else f"« {move.label} » : rien n'a changé.",
        "info",
    )
    back = request.form.get("redirect")
    query = f"?{urlencode({'redirect': back})}" if back else ""
    return redirect(url_for(".card_page", card_id=card_id) + query)


def _page(card_id: str, *, error: str | None = None) -> str:
    card = _card(card_id)
    status = card.physical_status or ""
    allowed = cards.MOVES.get(status, ())
    given = request.values.get("redirect")
    return render_template(
        "swan_sandbox/card.html",
        card=card,
        status_label=STATUS_LABELS.get(status, "Aucune carte physique"),
        moves={value: move for value, move in MOVES.items() if move.status in allowed},
        redirect=given or "",
        return_url=_return_url(given),
        error=error,
    )
