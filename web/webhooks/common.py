"""What every webhook shares: a bounded body and refusals in French JSON."""

from __future__ import annotations

from flask import Response, jsonify

#: An event report is a few hundred bytes.
MAX_BODY = 64 * 1024


def refused(status: int, message: str, details: list[str] | None = None) -> tuple[Response, int]:
    """A refused event: nothing was stored; ``details`` names each bad field."""
    body = {"erreur": message, **({"details": details} if details else {})}
    return jsonify(body), status
