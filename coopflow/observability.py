"""Logs as ``key=value`` lines (the case id on every line of a step) and Sentry."""

from __future__ import annotations

import logging
from typing import Any

from coopflow.config import Settings

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
#: Never sent anywhere: passwords, link tokens, session and CSRF secrets, IBANs.
SECRET_KEYS = ("password", "confirmation", "token", "csrf", "secret", "iban", "cookie")


class KeyValueFormatter(logging.Formatter):
    """``2026-11-23 08:16:07 INFO workflows.engine case transition case_id=3 trigger=sent``"""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "[filtré]" if any(s in str(k).lower() for s in SECRET_KEYS) else _scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def scrub_event(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    """Sentry ``before_send``: remove secrets from the request and the extra data."""
    request = event.get("request")
    if isinstance(request, dict):
        for part in ("data", "headers", "cookies", "query_string"):
            if part in request:
                request[part] = _scrub(request[part]) if part != "query_string" else "[filtré]"
    if "extra" in event:
        event["extra"] = _scrub(event["extra"])
    return event


def init_sentry(settings: Settings) -> None:
    if not settings.sentry_dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.dramatiq import DramatiqIntegration
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        send_default_pii=False,
        before_send=scrub_event,  # type: ignore[arg-type]
        integrations=[FlaskIntegration(), DramatiqIntegration(), SqlalchemyIntegration()],
    )
