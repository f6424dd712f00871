"""Accounts: argon2id hashes, single-use expiring links, session cookies, login limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import extract_parameters

from coopflow.app import create_app
from tests import factories
from tests.helpers import csrf_token
from tests.security.conftest import issue_link
from tests.web.conftest import text
from web import TOO_MANY_LOGINS
from web.auth import RESET_PURPOSE
from workflows.models import Mandataire
from workflows.password_hashing import hash_password, hasher

PASSWORD = "Choisi*Secret-7315"
#: What ``make_coop`` stores: any new password would replace it.
UNCHANGED = "argon2-hash-of-the-tests"
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# --- argon2id -----------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_with_strong_parameters():
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$")
    params = extract_parameters(stored)
    declared = hasher
    assert (params.memory_cost, params.time_cost, params.parallelism) == (
        declared.memory_cost,
        declared.time_cost,
        declared.parallelism,
    )
    owasp = params.memory_cost >= 19 * 1024 and params.time_cost >= 2
    rfc_9106 = (params.memory_cost, params.time_cost, params.parallelism) >= (64 * 1024, 3, 4)
    assert owasp or rfc_9106, params
    assert PASSWORD not in stored


# --- links ----------------------------------------------------------------------------


def _setup(client, path: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    page = client.get(path)
    if page.status_code != 200:
        return page
    data = {"csrf_token": csrf_token(text(page)), "password": password}
    return client.post(path, data={**data, "confirmation": password})


@pytest.fixture
def invited(make_coop):  # type: ignore[no-untyped-def]
    return make_coop("invited")


def test_an_invitation_link_serves_once(app, runtime, invited):
    link = f"/invitation/{issue_link(runtime, invited, 'invitation', timedelta(days=7))}"
    assert _setup(app.test_client(), link).status_code == 302
    again = _setup(app.test_client(), link, "Autre*Secret-1234")
    assert again.status_code in (409, 410) and "déjà été utilisé" in text(again)


def test_a_reset_link_serves_once(app, runtime, make_coop):
    coop = make_coop("active")
    link = f"/mot-de-passe-perdu/{issue_link(runtime, coop, RESET_PURPOSE, timedelta(hours=1))}"
    assert _setup(app.test_client(), link).status_code == 302
    with runtime.db.read() as session:
        first = session.get(Mandataire, coop.mandataire_id).password_hash
    again = _setup(app.test_client(), link, "Autre*Secret-1234")
    assert again.status_code == 410 and "déjà été utilisé" in text(again)
    with runtime.db.read() as session:
        assert session.get(Mandataire, coop.mandataire_id).password_hash == first


@pytest.mark.parametrize("purpose", ["invitation", RESET_PURPOSE])
def test_expired_links_are_refused(app, runtime, clock, make_coop, purpose):
    coop = make_coop("invited" if purpose == "invitation" else "active")
    raw = issue_link(runtime, coop, purpose, timedelta(hours=1))
    prefix = "/invitation" if purpose == "invitation" else "/mot-de-passe-perdu"
    clock.advance(timedelta(hours=1, seconds=1))
    refused = _setup(app.test_client(), f"{prefix}/{raw}")
    assert refused.status_code == 410 and "expiré" in text(refused)


def test_tampered_and_misused_links_are_refused(app, runtime, make_coop, invited):
    raw = issue_link(runtime, invited, "invitation", timedelta(days=7))
    payload, signature = raw.rsplit(".", 1)
    forged = f"{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    active = make_coop("active")
    reset = issue_link(runtime, active, RESET_PURPOSE, timedelta(hours=1))
    for path in (f"/invitation/{forged}", f"/invitation/{reset}", f"/mot-de-passe-perdu/{raw}"):
        refused = _setup(app.test_client(), path)
        assert refused.status_code == 410, path
        assert "pas valide" in text(refused), path
    with runtime.db.read() as session:
        assert session.get(Mandataire, invited.mandataire_id).password_hash == UNCHANGED


# --- session cookies ------------------------------------------------------------------


def _session_cookie(app, staff) -> str:  # type: ignore[no-untyped-def]
    client = app.test_client()
    page = text(client.get("/admin/connexion"))
    response = client.post(
        "/admin/connexion",
        data={
            "csrf_token": csrf_token(page),
            "email": staff.email,
            "password": factories.STAFF_PASSWORD,
        },
    )
    assert response.status_code == 302
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


def _attributes(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]} | {
        part.strip().lower() for part in cookie.split(";")[1:] if "samesite" in part.lower()
    }


@sqlite_only
def test_session_cookies_are_httponly_and_lax_always(app, staff):
    attributes = _attributes(_session_cookie(app, staff))
    assert {"httponly", "samesite=lax"} <= attributes
    assert "secure" not in attributes  # plain http in development


@sqlite_only
def test_session_cookies_are_secure_when_asked(runtime, staff):
    app = create_app(runtime.settings.with_overrides(secure_cookies=True))
    try:
        attributes = _attributes(_session_cookie(app, staff))
    finally:
        app.extensions["coopflow"].stop()
    assert {"secure", "httponly", "samesite=lax"} <= attributes
    assert app.config["REMEMBER_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_HTTPONLY"]


# --- login rate limits ----------------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize("path", ["/connexion", "/admin/connexion"])
def test_the_eleventh_login_in_a_minute_is_refused_in_french(app, path):
    client = app.test_client()
    token = csrf_token(text(client.get(path)))
    # Ten accounts (one account has its own, lower limit: see tests/security/test_login_limits.py).
    emails = [f"inconnu.{n}@ac-nice.fr" for n in range(11)]
    data = {"csrf_token": token, "password": "Mauvais*2026"}
    statuses = [client.post(path, data={**data, "email": e}).status_code for e in emails[:10]]
    assert statuses == [401] * 10
    refused = client.post(path, data={**data, "email": emails[10]})
    assert refused.status_code == 429
    page = text(refused)
    assert TOO_MANY_LOGINS in page and 'name="password"' in page  # the form, still there


@pytest.mark.parametrize("user_id", ["m:²", "m:٣", "s:99999999999999999999", "m:", "x:1", "m:-1"])
def test_a_session_naming_no_possible_row_is_anonymous(app, user_id):
    """The session is signed, so only our own cookies reach the user loader; one naming
    an id no row can have (Unicode digits, past the id range) is a visitor, not a 500."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
    answer = client.get("/mon-espace")
    assert answer.status_code == 302 and "/connexion" in answer.headers["Location"]
