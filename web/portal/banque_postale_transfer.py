"""SCAFFOLD: the attestation page, replaced this session."""

from __future__ import annotations

from flask import Blueprint

from web.auth import mandataire_required
from workflows.processes.banque_postale_transfer.definition import AWAITING_ATTESTATION

bp = Blueprint("banque_postale_transfer", __name__)

PAGES = {AWAITING_ATTESTATION: "portal.banque_postale_transfer.page"}


@bp.get("/mon-espace/solde-banque-postale")
@mandataire_required
def page():  # type: ignore[no-untyped-def]
    return "SCAFFOLD"
