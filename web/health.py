"""``/healthz``: can this process reach its database and its broker? (liveness)

``/readyz``: should this process get traffic? The database answers, its schema is at the
Alembic head of this code (a deploy whose ``release`` did not run is not ready), and the
broker answers (Redis ping; embedded: the in-process worker is running). Both answer 200
or 503 with a JSON body naming each check and what fails.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, jsonify
from sqlalchemy import text

from web.extensions import csrf
from web.runtime import Runtime, runtime

bp = Blueprint("health", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    rt = runtime()
    checks = {"database": _check(_database, rt), "broker": _check(_broker, rt)}
    return _answer(checks)


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    rt = runtime()
    checks = {"database": _check(_database, rt)}
    if checks["database"] == "ok":
        checks["schema"] = _check(_schema, rt)
    checks["broker"] = _check(_broker, rt)
    if rt.settings.embedded_broker:
        checks["worker"] = _check(_embedded_worker, rt)
    return _answer(checks)


def _answer(checks: dict[str, str]):  # type: ignore[no-untyped-def]
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "erreur", checks=checks), 200 if healthy else 503


def _check(probe: Callable[[Runtime], str | None], rt: Runtime) -> str:
    """``ok``, or the reason in French; never the exception's text (it may hold a URL)."""
    try:
        problem = probe(rt)
    except Exception as exc:
        return f"erreur : {exc.__class__.__name__}"
    return problem or "ok"


def _database(rt: Runtime) -> None:
    with rt.db.read() as session:
        session.execute(text("SELECT 1"))


def _broker(rt: Runtime) -> None:
    rt.ping_broker()


def _schema(rt: Runtime) -> str | None:
    current, head = rt.schema_revisions()
    if current != head:
        return f"erreur : schéma {current or 'vide'}, attendu {head} (coopflow db upgrade)"
    return None


def _embedded_worker(rt: Runtime) -> str | None:
    if not rt.embedded_worker_alive():
        return "erreur : les workers intégrés ne tournent pas"
    return None
