"""Sessions: a login starts a clean one (portal and back-office), a staff session ends
after an idle time and when the password changes; ``next`` never leaves the site nor
lands on a URL that only takes a form; one account per address whatever its case;
pages never cached, HTTPS remembered when cookies are secure; IBANs masked in logs."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy.exc import IntegrityError

from coopflow.observability import KeyValueFormatter, mask_ibans
from tests import factories
from tests.helpers import csrf_token
from tests.web.conftest import log_in_staff, text
from web.auth import STAFF_SEEN
from web.forms import safe_next
from web.headers import STRICT_TRANSPORT_SECURITY
from workflows.models import Mandataire, StaffUser
from workflows.password_hashing import hash_password

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PASSWORD = "Choisi*Secret-7315"


def _post_login(client, path: str, email: str, password: str, next_: str | None = None):  # type: ignore[no-untyped-def]
    token = csrf_token(text(client.get(path)))
    url = path if next_ is None else f"{path}?next={next_}"
    return client.post(url, data={"csrf_token": token, "email": email, "password": password})


@sqlite_only
def test_the_portal_login_starts_a_clean_session(app, make_coop, staff):
    coop = make_coop("active")
    with app.extensions["coopflow"].db.write() as session:
        session.get(Mandataire, coop.mandataire_id).password_hash = hash_password(PASSWORD)
    client = app.test_client()
    log_in_staff(client, staff.id)
    with client.session_transaction() as session:
        session["planted"] = "by someone else"  # a fixed session, or a staff one left open
    assert _post_login(client, "/connexion", coop.email, PASSWORD).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert str(session["_user_id"]).startswith(f"m:{coop.mandataire_id}:")
    assert client.get("/admin/").status_code == 403  # the staff session is gone


@sqlite_only
def test_a_staff_session_ends_after_its_idle_time(app, staff):
    client = app.test_client()
    log_in_staff(client, staff.id)
    assert client.get("/admin/").status_code == 200
    with client.session_transaction() as session:
        session[STAFF_SEEN] = time.time() - 29 * 60  # 29 minutes ago: still open
    assert client.get("/admin/").status_code == 200
    with client.session_transaction() as session:
        session[STAFF_SEEN] = time.time() - 31 * 60
    ended = client.get("/admin/taches/")
    assert ended.status_code == 302 and "/admin/connexion" in ended.headers["Location"]
    login_page = text(client.get(ended.headers["Location"]))
    assert "Votre session a pris fin après 30 minutes sans activité" in login_page
    assert client.get("/admin/").status_code == 302  # for good


@sqlite_only
def test_the_idle_time_is_a_setting(settings, staff):
    from coopflow.app import create_app
    from coopflow.runtime import build_runtime

    flask_app = create_app(runtime=build_runtime(settings.with_overrides(staff_idle_minutes=5)))
    try:
        client = flask_app.test_client()
        log_in_staff(client, staff.id)
        with client.session_transaction() as session:
            session[STAFF_SEEN] = time.time() - 6 * 60
        assert client.get("/admin/").status_code == 302
    finally:
        flask_app.extensions["coopflow"].stop()


@sqlite_only
def test_a_new_staff_password_ends_the_sessions_opened_before(app, runtime, staff):
    elsewhere = app.test_client()
    log_in_staff(elsewhere, staff.id)
    assert elsewhere.get("/admin/").status_code == 200
    with runtime.db.write() as session:
        session.get(StaffUser, staff.id).password_hash = hash_password("Nouveau*Secret-2027")
    assert elsewhere.get("/admin/").status_code == 302
    # A session id without its stamp (older than stamps) is no session either.
    with elsewhere.session_transaction() as session:
        session["_user_id"] = f"s:{staff.id}"
    assert elsewhere.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "/\\evil.example",
        "/\\/evil.example",
        "//evil.example",
        "/\t/evil.example",
        "/admin\n/x",
        "/admin/\x7f",
        "https://evil.example/admin/",
        "/admin/dossiers/1/commenter",  # only takes a form's POST: it would answer 405
        "/admin/page-inconnue",
    ],
)
def test_next_never_leaves_the_site_nor_lands_on_a_post_only_url(app, target):
    with app.test_request_context():
        assert safe_next(target, "/admin/", under="/admin") == "/admin/"


def test_next_keeps_the_pages_that_open(app):
    with app.test_request_context():
        for target in ("/admin/dossiers/1", "/admin/dossiers/?q=%C3%A9cole", "/admin"):
            assert safe_next(target, "/admin/", under="/admin") == target


@sqlite_only
def test_the_staff_login_ignores_a_next_with_a_backslash(app, staff):
    client = app.test_client()
    answer = _post_login(
        client, "/admin/connexion", staff.email, factories.STAFF_PASSWORD, "/\\evil.example"
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/"


def test_one_mandataire_per_address_whatever_its_case(db, ad, factory_session):
    factories.MandataireFactory(coop__ad=ad, email="eloise.martin@ac-nice.fr")
    with pytest.raises(IntegrityError), db.write() as session:
        coop = factories.CoopFactory(ad=ad)
        session.add(
            Mandataire(
                coop_id=coop.id, first_name="É", last_name="M", email="Eloise.Martin@AC-Nice.fr"
            )
        )


@sqlite_only
def test_back_office_pages_are_never_cached_and_files_are(app, staff):
    client = app.test_client()
    log_in_staff(client, staff.id)
    for path in ("/admin/", "/admin/connexion", "/admin/emails/"):
        assert client.get(path).headers["Cache-Control"] == "private, no-store", path
    script = client.get("/admin/ressources/links.js")
    assert script.status_code == 200 and "no-store" not in script.headers.get("Cache-Control", "")


@sqlite_only
def test_https_is_remembered_only_with_secure_cookies(app, runtime):
    from coopflow.app import create_app

    assert "Strict-Transport-Security" not in app.test_client().get("/connexion").headers
    secure = create_app(runtime.settings.with_overrides(secure_cookies=True))
    try:
        for path in ("/connexion", "/admin/connexion"):
            headers = secure.test_client().get(path).headers
            assert headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
    finally:
        secure.extensions["coopflow"].stop()


@pytest.mark.parametrize(
    "written",
    [
        "FR7630006000011234567890189",
        "fr7630006000011234567890189",
        "fr76 3000 6000 0112 3456 7890 189",
        "FR76\u00a03000\u00a06000\u00a00112\u00a03456\u00a07890\u00a0189",
        "FR76-3000-6000-0112-3456-7890-189",
        "FR 76 3000  6000 0112 3456 7890 189",
        "de89 3704 0044 0532 0130 00",
    ],
)
def test_ibans_are_masked_in_logs_whatever_their_case_and_spacing(written):
    record = logging.makeLogRecord(
        {"name": "workers", "levelname": "WARNING", "msg": f"virement refusé vers {written} !"}
    )
    line = KeyValueFormatter("%(levelname)s %(message)s").format(record)
    digits = "".join(c for c in written if c.isalnum())
    assert digits[4:-4] not in "".join(c for c in line if c.isalnum()), line
    assert "[IBAN filtré …" in line


def test_words_that_look_like_groups_of_four_are_not_an_iban():
    sentence = "Le dossier ab12 avec cela pour toute leur aide."
    assert mask_ibans(sentence) == sentence


def test_the_migration_names_the_addresses_shared_whatever_the_case(tmp_path):
    from sqlalchemy import create_engine
    from sqlalchemy import text as sql

    from coopflow import db_migrations

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    db_migrations.upgrade(url, "0007")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sql(
                "INSERT INTO ads (id, code, name, email, phone, address, academic_domains,"
                " invitation_validity_days, password_min_length, created_at) VALUES"
                " (1, 'AD06', 'OCCE 06', 'ad06@occe.coop', '', '', '[]', 7, 8, '2026-09-01')"
            )
        )
        connection.execute(
            sql(
                "INSERT INTO coops (id, ad_id, affiliation_number, name, school_name, street,"
                " postal_code, city, school_email, phone, created_at, updated_at) VALUES"
                " (1, 1, '0060001A', 'Coop', 'École', '', '', '', 'e@ac-nice.fr', '',"
                " '2026-09-01', '2026-09-01')"
            )
        )
        for n, email in enumerate(("jean.dupont@ac-nice.fr", "Jean.Dupont@ac-nice.fr")):
            connection.execute(
                sql(
                    "INSERT INTO mandataires (id, coop_id, first_name, last_name, email,"
                    " created_at) VALUES (:id, 1, 'Jean', 'Dupont', :email, '2026-09-01')"
                ),
                {"id": n + 1, "email": email},
            )
    engine.dispose()
    with pytest.raises(RuntimeError, match=r"jean\.dupont@ac-nice\.fr"):
        db_migrations.upgrade(url)
