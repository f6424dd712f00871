"""Every portal route, as found in the app's URL map, seen by the wrong people: the
mandataire of another coop (with that coop's ids), a staff member, an anonymous visitor.

A new route is covered by itself; a new route with a parameter this file does not know
fails the test until someone says here which of coop B's values to try in it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from io import BytesIO
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from sqlalchemy import select
from werkzeug.routing import Rule

from tests import factories
from tests.helpers import csrf_token
from tests.web.conftest import (
    PNG,
    PortalCoop,
    log_in_mandataire,
    log_in_staff,
    settle,
    text,
)
from workflows.models import Case, Coop, Document

#: Not the portal: the back-office, assets, health, and the pages before a login.
NOT_PORTAL = (
    "/admin",
    "/static",
    "/healthz",
    "/readyz",
    "/metrics",
    "/webhooks",
    "/sandbox",  # Swan's stand-in page, outside the portal as Swan's own is
    "/connexion",
    "/deconnexion",
    "/invitation",
    "/mot-de-passe-perdu",
    # « Vérifier un document »: public, for anyone holding an attestation (its code and
    # this address are printed on it); tests/web/test_verification.py covers what it says.
    "/verification",
)
#: The site's front door, tested on its own below: it only sends each one home.
FRONT_DOOR = "/"
B_LOGO = PNG + b"logo of coop B"


@dataclass
class Victim:
    """Coop B: what it owns, and the strings that must never reach anyone else."""

    coop: PortalCoop
    #: Values to try for each route parameter: coop B's own ids.
    params: dict[str, list[int]]
    markers: list[str]
    secrets: list[bytes]


def portal_rules(app: Flask) -> list[Rule]:
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule != FRONT_DOOR and not rule.rule.startswith(NOT_PORTAL)
    ]
    assert any(r.endpoint == "portal.documents.download" for r in rules), "no portal found"
    return sorted(rules, key=lambda r: r.rule)


def requests_for(app: Flask, victim: Victim) -> list[tuple[str, str, str]]:
    """``(method, url, rule)`` for every portal route, filled with coop B's ids."""
    rules = portal_rules(app)
    for rule in rules:
        unknown = set(rule.arguments) - set(victim.params)
        if unknown:
            pytest.fail(
                f"La route {rule.rule} a un paramètre que ce test ne connaît pas "
                f"({', '.join(sorted(unknown))}) : ajoutez à Victim.params les valeurs de "
                "la coopérative B à essayer."
            )
    out = []
    for rule in rules:
        combos: list[dict[str, int]] = [{}]
        for name in sorted(rule.arguments):
            combos = [{**c, name: value} for c in combos for value in victim.params[name]]
        for values in combos:
            with app.test_request_context():
                url = url_for(rule.endpoint, **values)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                out.append((method, url, rule.rule))
    return out


def _form(token: str, victim: Victim, runtime) -> dict[str, str]:
    """Every field a portal form reads, filled as a forger would (coop B's version)."""
    with runtime.db.read() as s:
        version = s.get(Case, victim.coop.space_id).version
    return {
        "csrf_token": token,
        "version": str(version),
        "fingerprint": "0" * 32,
        "message": "Test d'intrusion",
        "street": "1 rue Volée",
        "postal_code": "75001",
        "city": "Paris",
        "phone": "01 02 03 04 05",
    }


def _snapshot(runtime, victim: Victim) -> tuple:
    with runtime.db.read() as s:
        case = s.get(Case, victim.coop.space_id)
        coop = s.get(Coop, victim.coop.coop_id)
        documents = s.execute(
            select(Document.id, Document.sha256).where(Document.coop_id == coop.id)
        ).all()
        return (
            case.state,
            case.version,
            (coop.street, coop.postal_code, coop.city, coop.phone),
            sorted(documents),
        )


@pytest.fixture
def coop_b(runtime, app, make_coop) -> Victim:
    """A confirmed coop with its summary PDF and a logo."""
    b = make_coop("confirmed")
    client = app.test_client()
    log_in_mandataire(app, client, b.mandataire_id)
    page = text(client.get("/mon-espace/verification"))
    with runtime.db.read() as s:
        coop = s.get(Coop, b.coop_id)
        address = (coop.street, coop.postal_code, coop.city, coop.school_email)
    saved = client.post(
        "/mon-espace/verification/coordonnees",
        data={
            "csrf_token": csrf_token(page),
            "street": address[0],
            "postal_code": address[1],
            "city": address[2],
            "phone": "04 93 99 88 77",
            "logo": (BytesIO(B_LOGO), "b.png", "image/png"),
        },
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302
    settle(runtime)
    with runtime.db.read() as s:
        documents = s.scalars(select(Document).where(Document.coop_id == b.coop_id)).all()
    assert sorted(d.kind for d in documents) == ["logo", "space_summary"]
    return Victim(
        coop=b,
        params={"document_id": [d.id for d in documents] + [10_000]},
        markers=[b.name, b.affiliation_number, b.email, address[3], "04 93 99 88 77"],
        secrets=[d.content for d in documents],
    )


def _leaks(response, victim: Victim) -> list[str]:
    body = response.get_data()
    page = html.unescape(body.decode("utf-8", errors="replace"))
    found = [m for m in victim.markers if m in page]
    found += ["un fichier de B" for secret in victim.secrets if secret in body]
    return found


def test_another_coops_mandataire_never_sees_or_touches_it(runtime, app, make_coop, coop_b):
    a = make_coop("active")
    client = app.test_client()
    log_in_mandataire(app, client, a.mandataire_id)
    token = csrf_token(text(client.get("/mon-espace")))
    before = _snapshot(runtime, coop_b)
    seen = []
    for method, url, rule in requests_for(app, coop_b):
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data=_form(token, coop_b, runtime))
        seen.append(rule)
        assert response.status_code < 500, (method, url, response.status_code)
        assert not _leaks(response, coop_b), (method, url, _leaks(response, coop_b))
        if "<" in rule:  # a route naming one of B's rows: not found for A
            assert response.status_code in (403, 404), (method, url, response.status_code)
    settle(runtime)
    assert _snapshot(runtime, coop_b) == before
    assert "/mon-espace/documents/<int:document_id>" in seen
    # A's own pages still work and speak of A only.
    assert a.name in text(client.get("/mon-espace"))


def test_staff_sessions_are_refused_everywhere_in_the_portal(runtime, app, ad, coop_b):
    agent = factories.StaffFactory(ad=ad)
    client = app.test_client()
    log_in_staff(client, agent.id)
    token = csrf_token(text(client.get("/connexion")))
    before = _snapshot(runtime, coop_b)
    for method, url, _rule in requests_for(app, coop_b):
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data=_form(token, coop_b, runtime))
        assert response.status_code == 403, (method, url, response.status_code)
        assert not _leaks(response, coop_b), (method, url)
    assert _snapshot(runtime, coop_b) == before
    front = client.get(FRONT_DOOR)
    assert front.status_code == 302 and front.headers["Location"] == "/admin/"


def test_anonymous_visitors_are_sent_to_the_login(runtime, app, coop_b):
    client = app.test_client()
    token = csrf_token(text(client.get("/connexion")))
    before = _snapshot(runtime, coop_b)
    for method, url, _rule in requests_for(app, coop_b):
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data=_form(token, coop_b, runtime))
        assert response.status_code == 302, (method, url, response.status_code)
        assert urlsplit(response.headers["Location"]).path == "/connexion", (method, url)
        assert not _leaks(response, coop_b), (method, url)
    assert _snapshot(runtime, coop_b) == before
    front = client.get(FRONT_DOOR)
    assert front.status_code == 302 and front.headers["Location"] == "/mon-espace"
