"""Webhooks: outside systems reporting events. Each is authenticated before its body is
parsed, answers in JSON (French messages), and is kept once by its event id, so that a
delivery repeated or out of order changes nothing more (``workflows/mail_events.py``).

``POST /webhooks/mail``: the mail relay's delivery reports, signed with
``COOPFLOW_MAIL_WEBHOOK_SECRET``: ``X-Coopflow-Signature: sha256=<hex HMAC-SHA256 of
the raw body>``. Answers 404 while that secret is unset.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy.exc import IntegrityError

from web.extensions import csrf
from web.runtime import runtime
from workflows import mail_events
from workflows.errors import ValidationError

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)  # authenticated by their signature, not by a session

SIGNATURE_HEADER = "X-Coopflow-Signature"
#: A delivery report is a few hundred bytes.
MAX_BODY = 64 * 1024


def signature(secret: str, body: bytes) -> str:
    """The header value the relay sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@bp.post("/mail")
def mail() -> tuple[Response, int]:
    secret = runtime().settings.mail_webhook_secret
    if not secret:
        abort(404)
    if (request.content_length or 0) > MAX_BODY:
        return _refused(413, "Événement trop volumineux (64 Ko au plus).")
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return _refused(413, "Événement trop volumineux (64 Ko au plus).")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(given.encode(), signature(secret, body).encode()):
        return _refused(401, "Signature manquante ou invalide.")
    try:
        event = mail_events.parse(json.loads(body))
    except (ValueError, RecursionError):  # JSONDecodeError and undecodable bytes
        return _refused(400, "Événement refusé : le corps n'est pas du JSON valide.")
    except ValidationError as exc:
        return _refused(400, "Événement refusé.", exc.errors)
    engine = runtime().engine
    try:
        with engine.transaction() as tx:
            applied = mail_events.apply(tx, event)
    except IntegrityError:
        # The same event, delivered twice at once: the other delivery kept it.
        applied = mail_events.Applied("duplicate", "Événement déjà reçu.")
    return jsonify(resultat=applied.outcome, message=applied.message), 200


def _refused(status: int, message: str, details: list[str] | None = None) -> tuple[Response, int]:
    body = {"erreur": message, **({"details": details} if details else {})}
    return jsonify(body), status
