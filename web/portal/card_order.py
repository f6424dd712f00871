"""SCAFFOLD: the card page, replaced this session."""

from __future__ import annotations

from flask import Blueprint

from web.auth import mandataire_required
from workflows.processes.card_order.definition import CONSENT_PENDING, SHIPPED, TO_ORDER

bp = Blueprint("card_order", __name__)

PAGES = {state: "portal.card_order.page" for state in (TO_ORDER, CONSENT_PENDING, SHIPPED)}


@bp.get("/mon-espace/carte")
@mandataire_required
def page():  # type: ignore[no-untyped-def]
    return "SCAFFOLD"
