"""``POST /webhooks/swan``: Swan's events (the rules: ``workflows/swan_events.py``),
authenticated by the shared secret ``COOPFLOW_SWAN_WEBHOOK_SECRET`` that Swan sends in
the ``x-swan-secret`` header (no signature of the body). Answers 404 while that secret
is unset.

The secret is compared, in constant time, before a byte of the body is read: a caller
without it learns nothing and costs nothing. Swan wants its answer within 10 seconds:
a membership's event is only kept, its case's sync step asks Swan itself; a
transaction's event is read from Swan here first, with a short timeout
(``workflows/swan_transactions.py``: no case knows a transaction before it is read).
If Swan does not answer, nothing is kept and the answer is 503: Swan delivers the event
again (every 30 seconds, 7 times).
"""

from __future__ import annotations

import hmac
import json
import logging

from flask import Response, abort, jsonify, request

from web.runtime import runtime
from web.webhooks.common import MAX_BODY, refused
from workflows import swan_events, swan_transactions
from workflows.engine.errors import TransientStepError, ValidationError

log = logging.getLogger(__name__)

SECRET_HEADER = "x-swan-secret"
TOO_LARGE = "Événement trop volumineux (64 Ko au plus)."
SWAN_SILENT = "Swan n'a pas répondu à temps : événement non enregistré, à renvoyer."


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
    rt = runtime()
    try:
        applied = swan_transactions.receive(rt.engine, event, rt.swan)
    except TransientStepError as silent:
        log.warning(
            "swan event not read",
            extra={"event_id": event.event_id, "type": event.event_type, "error": str(silent)},
        )
        return refused(503, SWAN_SILENT)
    return jsonify(resultat=applied.outcome, message=applied.message), 200
