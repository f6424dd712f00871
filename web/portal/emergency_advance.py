"""SCAFFOLD: the advance pages, replaced this session."""

from __future__ import annotations

from flask import Blueprint

from web.auth import mandataire_required
from workflows.processes.emergency_advance.definition import AWAITING_SIGNATURE

bp = Blueprint("emergency_advance", __name__)

PAGES = {AWAITING_SIGNATURE: "portal.emergency_advance.page"}


@bp.get("/mon-espace/avance")
@mandataire_required
def page():  # type: ignore[no-untyped-def]
    return "SCAFFOLD"
