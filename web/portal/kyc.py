"""The portal's identity verification page (being built)."""

from __future__ import annotations

from flask import Blueprint, abort

from workflows.processes.kyc.definition import EXPIRED, IN_PROGRESS, INVALID, LINK_SENT

bp = Blueprint("kyc", __name__)


@bp.get("/mon-espace/identite")
def page() -> str:
    abort(404)


PAGES = {state: "portal.kyc.page" for state in (LINK_SENT, IN_PROGRESS, INVALID, EXPIRED)}
