"""No password, link token or full IBAN in the logs or in what Sentry would receive.

A real server (werkzeug's, like ``coopflow serve``; its access log prints every path)
and the worker run a wrong login, a password setup from an invitation link, a reset
request and its link, while every record of every logger is kept at DEBUG.
"""

from __future__ import annotations

import http.cookiejar
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

import pytest

from coopflow.observability import scrub_event
from tests.browser.conftest import live_server  # noqa: F401 (the fixture)
from tests.helpers import csrf_token, text_body
from tests.security.conftest import issue_link
from tests.web.conftest import settle
from workflows.models import Mandataire

WRONG = "Mauvais*Secret-4821"
CHOSEN = "Choisi*Secret-7315"
RENEWED = "Nouveau*Secret-9642"
IBAN = "FR76 3000 6000 0112 3456 7890 189"
_RESET_LINK = re.compile(r"https?://\S+/mot-de-passe-perdu/\S+")


class Browser:
    """Forms posted with their CSRF token and the session cookie, over HTTP."""

    def __init__(self, base: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path) as response:
            return str(response.read().decode())

    def submit(self, path: str, fields: dict[str, str]) -> int:
        data = {"csrf_token": csrf_token(self.get(path)), **fields}
        body = urllib.parse.urlencode(data).encode()
        try:
            with self.opener.open(self.base + path, data=body) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code


def _everything(records: list[logging.LogRecord]) -> str:
    """Each record's message, arguments and extra fields, as any handler could print."""
    lines = []
    for record in records:
        lines.append(record.getMessage())
        lines.append(repr(record.__dict__))
    return "\n".join(lines)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_logs_never_carry_passwords_or_link_tokens(
    runtime,
    live_server,  # noqa: F811 (the fixture)
    make_coop,
    smtp_server,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    for name in ("werkzeug", "gunicorn.access", "sqlalchemy.engine"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    invited = make_coop("invited")
    invitation = issue_link(runtime, invited, "invitation", timedelta(days=7))

    visitor = Browser(live_server)
    assert visitor.submit("/connexion", {"email": invited.email, "password": WRONG}) in (401, 200)
    fields = {"password": CHOSEN, "confirmation": CHOSEN}
    assert visitor.submit(f"/invitation/{invitation}", fields) == 200  # redirected to login
    with runtime.db.read() as session:
        assert session.get(Mandataire, invited.mandataire_id).password_hash is not None
    assert visitor.submit("/connexion", {"email": invited.email, "password": CHOSEN}) == 200

    Browser(live_server).submit("/mot-de-passe-perdu", {"email": invited.email})
    settle(runtime)
    [message] = [m for m in smtp_server.to(invited.email) if "nouveau" in m["Subject"]]
    link = _RESET_LINK.search(text_body(message))
    assert link
    reset = urllib.parse.urlsplit(link.group(0)).path.rsplit("/", 1)[1]
    fields = {"password": RENEWED, "confirmation": RENEWED}
    assert Browser(live_server).submit(f"/mot-de-passe-perdu/{reset}", fields) == 200

    logged = _everything(caplog.records)
    assert "/invitation/" in logged and "/mot-de-passe-perdu/" in logged  # the access log
    leaked = [s for s in (WRONG, CHOSEN, RENEWED, invitation, reset) if s in logged]
    assert not leaked, f"dans les logs : {leaked}"


def test_sentry_events_lose_every_secret():
    token = "WzEsImFiY2RlZiJd.c2lnbmF0dXJlLW9mLXRoZS1saW5r"
    event: dict[str, Any] = {
        "message": f"Virement refusé pour {IBAN}",
        "exception": {
            "values": [{"type": "ValueError", "value": f"IBAN {IBAN.replace(' ', '')} invalide"}]
        },
        "request": {
            "url": f"https://coopflow.example/invitation/{token}",
            "method": "POST",
            "data": {"password": CHOSEN, "confirmation": CHOSEN, "email": "a@ac-nice.fr"},
            "headers": {
                "Authorization": "Bearer very-secret-bearer",
                "Cookie": "session=very-secret-cookie",
                "Referer": f"https://coopflow.example/mot-de-passe-perdu/{token}",
            },
            "cookies": {"session": "very-secret-cookie"},
        },
        "extra": {"iban": IBAN, "case_id": 3},
        "breadcrumbs": {"values": [{"category": "log", "message": f"GET /invitation/{token} 200"}]},
    }
    scrubbed = repr(scrub_event(event, {}))
    secrets = [CHOSEN, token, "very-secret-bearer", "very-secret-cookie"]
    secrets += [IBAN, IBAN.replace(" ", "")]
    assert [s for s in secrets if s in scrubbed] == []
    assert "a@ac-nice.fr" in scrubbed and "case_id" in scrubbed  # the rest is kept
