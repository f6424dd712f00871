"""``POST /webhooks/mail``: the mail relay's delivery reports (the rules:
``workflows/delivery_reports.py``), signed with
``COOPFLOW_MAIL_WEBHOOK_SECRET``: ``X-Coopflow-Signature: sha256=<hex HMAC-SHA256 of
the raw body>``. Answers 404 while that secret is unset.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from flask import Response, abort, jsonify, request
from sqlalchemy.exc import IntegrityError

from web.runtime import runtime
from web.webhooks.common import MAX_BODY, refused
from workflows import delivery_reports
from workflows.engine.errors import ValidationError

SIGNATURE_HEADER = "X-Coopflow-Signature"


def signature(secret: str, body: bytes) -> str:
    """The header value the relay sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def receive() -> tuple[Response, int]:
    secret = runtime().settings.mail_webhook_secret
    if not secret:
        abort(404)
    if (request.content_length or 0) > MAX_BODY:
        return refused(413, "Événement trop volumineux (64 Ko au plus).")
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return refused(413, "Événement trop volumineux (64 Ko au plus).")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(given.encode(), signature(secret, body).encode()):
        return refused(401, "Signature manquante ou invalide.")
    try:
        event = delivery_reports.parse(json.loads(body))
    except (ValueError, RecursionError):  # JSONDecodeError and undecodable bytes
        return refused(400, "Événement refusé : le corps n'est pas du JSON valide.")
    except ValidationError as exc:
        return refused(400, "Événement refusé.", exc.errors)
    engine = runtime().engine
    try:
        with engine.transaction() as tx:
            applied = delivery_reports.apply(tx, event)
    except IntegrityError:
        # The same event, delivered twice at once: the other delivery kept it.
        applied = delivery_reports.Applied("duplicate", "Événement déjà reçu.")
    return jsonify(resultat=applied.outcome, message=applied.message), 200
