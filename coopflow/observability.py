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
#: Between an IBAN's groups, as people type or paste them: spaces (non-breaking ones
#: too), a tab, a dash.
_IBAN_SEPARATOR = r"[ \t\u00a0\u202f-]{0,2}"
#: A full IBAN in any text (an error message, a log line), upper- or lower-case, compact
#: or in groups: country, check digits, 11-30 more (see :func:`_is_iban`).
_IBAN = re.compile(
    rf"\b[A-Za-z]{{2}}{_IBAN_SEPARATOR}\d{{2}}(?:{_IBAN_SEPARATOR}[A-Za-z0-9]{{4}}){{2,7}}"
    rf"(?:{_IBAN_SEPARATOR}[A-Za-z0-9]{{1,3}})?\b"
)
#: A signed link (``itsdangerous`` over ``[id, nonce]``), e.g. in a URL path or a message.
_SIGNED_LINK = re.compile(r"\.?(?:Wz|eyJ)[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}")


class KeyValueFormatter(logging.Formatter):
    """``2026-11-23 08:16:07 INFO workflows.engine.engine case transition case_id=3 ...``,
    IBANs and signed links filtered out."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return _mask_text(line)  # an IBAN or a signed link in a message never reaches a log


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


def _is_iban(candidate: str) -> bool:
    """An IBAN, not words that happen to look like groups of four: its check digits
    hold (ISO 13616, mod 97), or it is mostly digits (a mistyped IBAN is one too)."""
    compact = re.sub(r"[^A-Za-z0-9]", "", candidate).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1 or sum(c.isdigit() for c in compact[4:]) >= 10


def mask_ibans(text: str) -> str:
    """``text`` with every full IBAN but its last four characters filtered."""

    def mask(match: re.Match[str]) -> str:
        found = match.group()
        if not _is_iban(found):
            return found
        return f"[IBAN filtré …{re.sub(r'[^A-Za-z0-9]', '', found)[-4:].upper()}]"

    return _IBAN.sub(mask, text)


def _mask_text(text: str) -> str:
    return _SIGNED_LINK.sub("[lien filtré]", mask_ibans(text))


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
