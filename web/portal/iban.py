"""The portal's bank account page (being built)."""

from __future__ import annotations

from flask import Blueprint, abort

from workflows.processes.iban.definition import AWAITING_RIB, REJECTED

bp = Blueprint("iban", __name__)


@bp.get("/mon-espace/compte-bancaire")
def page() -> str:
    abort(404)


PAGES = {state: "portal.iban.page" for state in (AWAITING_RIB, REJECTED)}
