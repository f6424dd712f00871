"""Webhooks: outside systems reporting events, one module per source (``mail``...).

Each is authenticated before its body is parsed, answers in JSON (French messages),
and is kept once by its event id, so that a delivery repeated or out of order changes
nothing more."""

from __future__ import annotations

from flask import Blueprint

from web.extensions import csrf
from web.webhooks import mail, swan

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)  # authenticated by their signature, not by a session
bp.add_url_rule("/mail", "mail", mail.receive, methods=["POST"])
bp.add_url_rule("/swan", "swan", swan.receive, methods=["POST"])
