"""``POST /webhooks/swan``: Swan's events (the rules: ``workflows/swan_events.py``),
authenticated by the shared secret ``COOPFLOW_SWAN_WEBHOOK_SECRET`` that Swan sends in
the ``x-swan-secret`` header (no signature of the body). Answers 404 while that secret
is unset.

The secret is compared, in constant time, before a byte of the body is read: a caller
without it learns nothing and costs nothing. Swan wants its answer within 10 seconds:
this only keeps the event and queues the case's sync step, which asks Swan itself.
"""

from __future__ import annotations

import hmac
import json

from flask import Response, abort, jsonify, request
from sqlalchemy.exc import IntegrityError

from web.runtime import runtime
from web.webhooks.common import MAX_BODY, refused
from workflows import swan_events
from workflows.engine.errors import ValidationError

SECRET_HEADER = "x-swan-secret"
TOO_LARGE = "Événement trop volumineux (64 Ko au plus)."


def receive() -> tuple[Response, int]:
    secret = runtime().settings.swan_webhook_secret
    if not secret:
        abort(404)
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return refused(401, "Secret manquant ou invalide.")
    if (request.content_length or 0) > MAX_BODY:
        return refused(413, TOO_LARGE)
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return refused(413, TOO_LARGE)
    try:
        event = swan_events.parse(json.loads(body))
    except (ValueError, RecursionError):  # JSONDecodeError and undecodable bytes
        return refused(400, "Événement refusé : le corps n'est pas du JSON valide.")
    except ValidationError as exc:
        return refused(400, "Événement refusé.", exc.errors)
    try:
        with runtime().engine.transaction() as tx:
            applied = swan_events.record(tx, event)
    except IntegrityError:
        # The same event, delivered twice at once: the other delivery kept it.
        applied = swan_events.Applied("duplicate", "Événement déjà reçu.")
    return jsonify(resultat=applied.outcome, message=applied.message), 200
