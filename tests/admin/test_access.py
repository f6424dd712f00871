"""Who gets into the back-office, and how far: staff only, each AD its own cases."""

from __future__ import annotations

from sqlalchemy import select

from tests import factories
from tests.admin.conftest import csrf_token, log_in, text
from workflows.models import Case, CaseEvent, StaffUser
from workflows.password_hashing import hash_password


def test_staff_login_with_the_right_password(client, rt, staff06):
    page = client.get("/admin/connexion")
    assert page.status_code == 200
    html = text(page)
    assert "Connexion de l'équipe OCCE" in html

    done = client.post(
        "/admin/connexion?next=/admin/dossiers/",
        data={
            "csrf_token": csrf_token(html),
            "email": "Claire@OCCE.coop",
            "password": factories.STAFF_PASSWORD,
        },
    )
    assert done.status_code == 302 and done.headers["Location"] == "/admin/dossiers/"
    home = text(client.get("/admin/"))
    assert "Cas bloqués" in home and "Claire Agent" in home
    with rt.db.read() as session:
        assert session.get(StaffUser, staff06.id).last_login_at is not None


def test_staff_login_with_a_wrong_password_says_so_in_french(client, staff06):
    html = text(client.get("/admin/connexion"))
    wrong = client.post(
        "/admin/connexion",
        data={
            "csrf_token": csrf_token(html),
            "email": staff06.email,
            "password": "Mauvais*2026",
        },
    )
    assert wrong.status_code == 401
    assert "Adresse email ou mot de passe incorrect." in text(wrong)
    assert client.get("/admin/").status_code == 302


def test_login_never_redirects_outside_the_back_office(client, staff06):
    html = text(client.get("/admin/connexion"))
    done = client.post(
        "/admin/connexion?next=https://example.org/admin",
        data={
            "csrf_token": csrf_token(html),
            "email": staff06.email,
            "password": factories.STAFF_PASSWORD,
        },
    )
    assert done.headers["Location"] == "/admin/"


def test_anonymous_visitors_are_sent_to_the_staff_login(client):
    for path in (
        "/admin/",
        "/admin/dossiers/",
        "/admin/emails/",
        "/admin/cooperatives/",
        "/admin/importer/",
        "/admin/dossiers/1",
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/connexion?next=/admin/"), path


def test_a_mandataire_session_is_refused(client, ad):
    mandataire = factories.MandataireFactory(password_hash=hash_password("Cooperative*2026"))
    log_in(client, mandataire)
    for path in ("/admin/", "/admin/dossiers/", "/admin/emails/", "/admin/importer/"):
        assert client.get(path).status_code == 403, path


def test_logout(client, staff06):
    log_in(client, staff06)
    html = text(client.get("/admin/"))
    out = client.post("/admin/deconnexion", data={"csrf_token": csrf_token(html)})
    assert out.status_code == 302 and out.headers["Location"] == "/admin/connexion"
    assert client.get("/admin/").status_code == 302


def test_ad_staff_see_and_act_on_their_ad_only(app, client, rt, staff06, ad50, make_case):
    mine = make_case("expired")
    theirs = make_case("expired", of=ad50)
    log_in(client, staff06)

    listing = text(client.get("/admin/dossiers/"))
    assert f'href="/admin/dossiers/{mine.id}"' in listing
    assert f'href="/admin/dossiers/{theirs.id}"' not in listing
    assert listing.count("data-case-id=") == 1
    coops = text(client.get("/admin/cooperatives/"))
    assert mine.coop.affiliation_number in coops
    assert theirs.coop.affiliation_number not in coops

    assert client.get(f"/admin/dossiers/{theirs.id}").status_code == 404
    app.config["WTF_CSRF_ENABLED"] = False
    fired = client.post(
        f"/admin/dossiers/{theirs.id}/declencher/resend",
        data={"resend-version": theirs.version, "resend-comment": "essai"},
    )
    assert fired.status_code == 404
    with rt.db.read() as session:
        assert session.get(Case, theirs.id).state == "expired"


def test_national_staff_see_every_ad(client, national, ad50, make_case):
    mine = make_case("expired")
    theirs = make_case("expired", of=ad50)
    log_in(client, national)
    listing = text(client.get("/admin/dossiers/"))
    assert f'href="/admin/dossiers/{mine.id}"' in listing
    assert f'href="/admin/dossiers/{theirs.id}"' in listing
    assert client.get(f"/admin/dossiers/{theirs.id}").status_code == 200


def test_readonly_staff_see_but_cannot_act(app, client, rt, readonly06, make_case):
    case = make_case("expired")
    log_in(client, readonly06)
    page = client.get(f"/admin/dossiers/{case.id}")
    html = text(page)
    assert page.status_code == 200 and "Lien expiré" in html
    assert "<textarea" not in html and "/declencher/" not in html
    assert "Importer des coopératives" not in html
    assert client.get("/admin/importer/").status_code == 403

    app.config["WTF_CSRF_ENABLED"] = False
    fired = client.post(
        f"/admin/dossiers/{case.id}/declencher/resend",
        data={"resend-version": case.version, "resend-comment": "essai"},
    )
    assert fired.status_code == 403
    with rt.db.read() as session:
        assert session.get(Case, case.id).state == "expired"
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
        assert not [e for e in events if e.actor.startswith("staff:")]


def test_a_post_without_csrf_token_is_refused(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    response = client.post(
        f"/admin/dossiers/{case.id}/declencher/resend",
        data={"resend-version": case.version, "resend-comment": "essai"},
        headers={"Referer": f"http://localhost/admin/dossiers/{case.id}"},
    )
    # Back to the case page, the comment kept, « Ce formulaire avait expiré »: never a 400.
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/dossiers/{case.id}"
    assert "Ce formulaire avait expiré" in text(client.get(response.headers["Location"]))
    with rt.db.read() as session:
        assert session.get(Case, case.id).state == "expired"


def test_flask_admin_editing_endpoints_do_not_exist(app, client, national, make_case):
    case = make_case("expired")
    log_in(client, national)
    app.config["WTF_CSRF_ENABLED"] = False
    assert client.get("/admin/dossiers/new/").status_code == 404
    assert client.get(f"/admin/cooperatives/edit/?id={case.coop_id}").status_code == 404
    assert client.post("/admin/dossiers/delete/", data={"id": case.id}).status_code == 404
    assert client.post("/admin/emails/action/", data={"action": "delete"}).status_code == 404


def test_the_staff_login_is_rate_limited(client, staff06):
    html = text(client.get("/admin/connexion"))
    data = {"csrf_token": csrf_token(html), "password": "Mauvais*2026"}
    # Eleven accounts: one account alone is limited sooner (tests/security/test_login_limits.py).
    emails = [staff06.email] + [f"inconnu.{n}@occe.coop" for n in range(10)]
    statuses = [
        client.post("/admin/connexion", data={**data, "email": email}).status_code
        for email in emails
    ]
    assert statuses == [401] * 10 + [429]
