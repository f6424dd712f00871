"""Logs as ``key=value`` lines (the case id on every line of a step) and Sentry (scrubbed
of secrets)."""

from __future__ import annotations

import logging
import re
from typing import Any

from coopflow.config import Settings

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
#: Never sent anywhere: passwords, link tokens, session and CSRF secrets, IBANs.
SECRET_KEYS = ("password", "confirmation", "token", "csrf", "secret", "iban", "cookie")
#: Also filtered wherever they appear in an event (stack frame variables, breadcrumbs).
_ALSO_SECRET = ("authorization", "nonce", "passwd", "session")
#: A full IBAN in any text (an error message, a log line): country, check digits, 11-30 more.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
#: A signed link (``itsdangerous`` over ``[id, nonce]``), e.g. in a URL path or a message.
_SIGNED_LINK = re.compile(r"\.?(?:Wz|eyJ)[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}")


class KeyValueFormatter(logging.Formatter):
    """``2026-11-23 08:16:07 INFO workflows.engine.engine case transition case_id=3 ...``"""

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
    return _scrub_everywhere(event)


def _mask_text(text: str) -> str:
    text = _IBAN.sub(lambda m: f"[IBAN filtré …{m.group()[-4:]}]", text)
    return _SIGNED_LINK.sub("[lien filtré]", text)


def _scrub_everywhere(value: Any) -> Any:
    """Secrets by key name and IBANs or signed links inside any text, all through the
    event: exception messages, stack frame variables, breadcrumbs, the request URL."""
    if isinstance(value, dict):
        return {
            k: "[filtré]"
            if any(s in str(k).lower() for s in SECRET_KEYS + _ALSO_SECRET)
            else _scrub_everywhere(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub_everywhere(v) for v in value]
    if isinstance(value, str):
        return _mask_text(value)
    return value


def init_sentry(settings: Settings, *, transport: Any = None) -> None:
    """Report errors of the web app, the actors and the database when ``SENTRY_DSN`` is set.

    ``transport`` replaces the HTTP one (tests keep what would have been sent). Call it
    before the broker is built: the Dramatiq integration hooks ``Broker.__init__``."""
    if not settings.sentry_dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.dramatiq import DramatiqIntegration
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        # No personal data: the SDK's default. Not ``send_default_pii=False`` (deprecated)
        # nor ``data_collection`` (given, it turns the SDK's event scrubber off).
        before_send=scrub_event,  # type: ignore[arg-type]
        integrations=[FlaskIntegration(), DramatiqIntegration(), SqlalchemyIntegration()],
        transport=transport,
    )
