"""``/healthz``: can this process reach its database and its broker?"""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from web.extensions import csrf
from web.runtime import runtime

bp = Blueprint("health", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    rt = runtime()
    checks: dict[str, str] = {}
    try:
        with rt.db.read() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"erreur : {exc.__class__.__name__}"
    client = getattr(rt.broker, "client", None)
    try:
        if client is not None:
            client.ping()
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"erreur : {exc.__class__.__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "erreur", checks=checks), 200 if healthy else 503
