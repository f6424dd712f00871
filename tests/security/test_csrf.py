"""Every state-changing route of the app, as found in its URL map, refuses a request
without the CSRF token: nothing written, and the person sent back to a page that opens
(the form's page, or the login page when the session ended) with a French message,
never a bare 400 (``tests/web/test_session_expiry.py`` follows those pages).

Each request is sent by the person who could otherwise do it (the mandataire on the
portal, the AD's staff in the back-office, a visitor with a live link on the pages
before a login), with real ids; the same request with the token then gets past the
check, so a 400 here is the token's doing and nothing else's. A new route with a
parameter this file does not know fails the test until it is given a value.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import Rule

from tests.security.conftest import (
    database_rows,
    token_of,
    url_of,
    values_for,
    who_for,
)
from tests.web.conftest import settle, text
from web.kept_forms import FORM_EXPIRED, SESSION_ENDED, SESSION_ENDED_KEPT

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: Called by machines and authenticated by a signature of their body (the mail relay) or
#: a shared secret in a header (Swan's ``x-swan-secret``), never by a session cookie, so
#: a forged page cannot use them: ``tests/web/webhooks/test_mail.py`` and ``test_swan.py``
#: prove an unauthenticated request is refused before its body is read.
SIGNED = {"webhooks.mail", "webhooks.swan"}
#: Said on the page the refused request is sent back to (as ``text`` reads it: a
#: non-breaking space is a space).
CSRF_REFUSED = tuple(
    message.replace("\u00a0", " ")
    for message in (
        FORM_EXPIRED,
        SESSION_ENDED,
        SESSION_ENDED_KEPT,
        "La page de connexion avait expiré\u00a0: saisissez de nouveau vos identifiants.",
    )
)


def _unsafe_rules(app: Flask) -> list[tuple[Rule, str]]:
    out = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) & UNSAFE)
        if rule.endpoint not in SIGNED
    ]
    assert {r.endpoint for r in app.url_map.iter_rules()} >= SIGNED, "SIGNED names a lost route"
    # « Abandonner » deletes the draft job the other job routes are called with: last.
    return sorted(out, key=lambda r: ("abandonner" in r[0].rule, r[0].rule, r[1]))


def _form() -> dict[str, str]:
    """Every field the forms read, filled as a forged page would."""
    return {
        "email": "claire@occe.coop",
        "password": "Un*mot-de-passe-2026",
        "confirmation": "Un*mot-de-passe-2026",
        "message": "Message forgé",
        "comment": "Commentaire forgé",
        "title": "Tâche forgée",
        "street": "1 rue Forgée",
        "postal_code": "75001",
        "city": "Paris",
        "phone": "01 02 03 04 05",
        "version": "1",
    }


def test_every_state_changing_route_requires_the_csrf_token(app, runtime, world):
    app.config["WTF_CSRF_ENABLED"] = True
    rules = _unsafe_rules(app)
    assert {r.endpoint for r, _ in rules} >= {
        "auth.login",
        "admin.login",
        "cases.comment",
        "portal.space.update_details",
        "invitation.setup_password",
        "bulk.create",
    }, "the URL map lost routes this test relies on"
    before = database_rows(runtime)
    failures = []
    for rule, method in rules:
        url = url_of(rule, values_for(rule, world))
        client = world.clients[who_for(rule)]
        response = client.open(url, method=method, data=_form())
        if response.status_code != 302:
            failures.append(f"{method} {rule.rule} ({who_for(rule)}): {response.status_code}")
            continue
        shown = client.get(response.headers["Location"], follow_redirects=True)
        if shown.status_code != 200 or not any(m in text(shown) for m in CSRF_REFUSED):
            failures.append(f"{method} {rule.rule} ({who_for(rule)}): then {shown.status_code}")
    assert not failures, "acceptés sans jeton CSRF :\n" + "\n".join(failures)
    settle(runtime)
    assert database_rows(runtime) == before, "a request without a token wrote something"
    # Still logged in: the refused « Se déconnecter » did nothing either.
    assert world.clients["mandataire"].get("/mon-espace").status_code == 200
    assert world.clients["staff"].get("/admin/").status_code == 200


def test_with_the_token_the_same_requests_get_past_the_check(app, runtime, world):
    """The control of the test above: its 400s come from the missing token."""
    tokens = {
        "visitor": token_of(world.clients["visitor"], "/connexion"),
        "mandataire": token_of(world.clients["mandataire"], "/mon-espace/verification"),
        "staff": token_of(world.clients["staff"], "/admin/"),
    }
    failures = []
    for rule, method in _unsafe_rules(app):
        if rule.endpoint in ("auth.logout", "admin.logout"):
            continue  # would end the session the next requests use
        who = who_for(rule)
        url = url_of(rule, values_for(rule, world))
        data = {**_form(), "csrf_token": tokens[who]}
        response = world.clients[who].open(url, method=method, data=data)
        if response.status_code == 400 and any(m in text(response) for m in CSRF_REFUSED):
            failures.append(f"{method} {rule.rule} ({who})")
    assert not failures, "refusés malgré le jeton :\n" + "\n".join(failures)
