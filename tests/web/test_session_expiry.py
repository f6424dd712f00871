"""A form sent after its session ended loses nothing: the right login page (the
back-office's for staff), then the page the form was on (a GET, never the URL the form
posts to), its text typed back in; a form whose CSRF token no longer matches comes back
with a French message; a URL opened with the wrong method gets a French page.

(``tests/browser/test_session_expiry_browser.py`` does the same in Chromium.)"""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from tests import factories
from tests.helpers import csrf_token
from tests.web.conftest import log_in_mandataire, log_in_staff, text
from web import kept_forms
from web.auth import STAFF_SEEN
from web.kept_forms import KEPT, KEPT_FOR
from workflows.models import CaseEvent, Mandataire
from workflows.password_hashing import hash_password

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
COMMENT = "L'école a rappelé\u00a0: le directeur change en janvier, « à suivre » & <noté>."
PROBLEM = "Le compte bancaire affiché est celui de l'ancienne coopérative, pas le nôtre."
NEW_PASSWORD = "Nouveau*Secret-2027"
PORTAL_LOOK = "OCCE · Espace coopérative"
#: What a reader reads (``text`` reads a non-breaking space as a space).
FORM_EXPIRED, SESSION_ENDED_KEPT, TEXT_KEPT = (
    message.replace("\u00a0", " ")
    for message in (kept_forms.FORM_EXPIRED, kept_forms.SESSION_ENDED_KEPT, kept_forms.TEXT_KEPT)
)


@pytest.fixture
def staff(ad):  # type: ignore[no-untyped-def]
    return factories.StaffFactory(ad=ad, email="claire@occe.coop")


def _textarea(page: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, f"no textarea {name}"
    return match.group(1)


def _comments(runtime, case_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with runtime.db.read() as session:
        return [
            e.comment or ""
            for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id))
            if e.comment == COMMENT
        ]


def _commenting(app, make_coop, staff):  # type: ignore[no-untyped-def]
    """``staff`` logged in on the page of an active coop's invitation: their client, the
    case's id, the page, and its comment form's post."""
    case_id = make_coop("active").invitation_id
    client = app.test_client()
    log_in_staff(client, staff.id)
    page = f"/admin/dossiers/{case_id}"
    token = csrf_token(text(client.get(page)))
    return client, case_id, page, {"comment-csrf_token": token, "comment-text": COMMENT}


def _send_comment(client, page: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
    """The comment form of ``page`` posted as a browser posts it (with its Referer)."""
    return client.post(
        f"{page}/commenter", data=form, headers={"Referer": f"http://localhost{page}"}
    )


def _new_token_elsewhere(client) -> None:  # type: ignore[no-untyped-def]
    """Logged in again in another tab: the session's CSRF token is no longer the form's."""
    with client.session_transaction() as session:
        session["csrf_token"] = "un-autre-jeton"


def _staff_login(client, location: str, staff):  # type: ignore[no-untyped-def]
    login = client.get(location)
    assert login.status_code == 200
    page = text(login)
    assert "Connexion de l'équipe OCCE" in page and PORTAL_LOOK not in page
    return page, client.post(
        location,
        data={
            "csrf_token": csrf_token(page),
            "email": staff.email,
            "password": factories.STAFF_PASSWORD,
        },
    )


@sqlite_only
def test_a_comment_sent_after_the_staff_session_ended_is_typed_back(app, runtime, make_coop, staff):
    client, case_id, page, form = _commenting(app, make_coop, staff)
    with client.session_transaction() as session:  # 31 minutes away from the keyboard
        session[STAFF_SEEN] = time.time() - 31 * 60

    sent = _send_comment(client, page, form)
    assert sent.status_code == 302
    location = sent.headers["Location"]
    assert location == f"/admin/connexion?next=/admin/dossiers/{case_id}"
    login_page, logged_in = _staff_login(client, location, staff)
    assert SESSION_ENDED_KEPT in login_page
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == page

    back = text(client.get(page))
    typed = _textarea(back, "comment-text")
    assert typed == COMMENT.replace("\u00a0", " ")  # as typed (escaped in the HTML)
    assert TEXT_KEPT in back
    assert _comments(runtime, case_id) == []  # nothing was written meanwhile
    # Given back once: the next visit shows an empty form.
    assert _textarea(text(client.get(page)), "comment-text").strip() == ""


@sqlite_only
def test_a_form_sent_without_its_session_cookie_goes_through_the_staff_login(app, make_coop, staff):
    coop = make_coop("active")
    page = f"/admin/dossiers/{coop.invitation_id}"
    browser_restarted = app.test_client()  # the session cookie is gone, and its CSRF token
    form = {"comment-csrf_token": "ancien-jeton", "comment-text": COMMENT}
    sent = _send_comment(browser_restarted, page, form)
    assert sent.status_code == 302 and sent.headers["Location"].startswith("/admin/connexion")
    login_page, logged_in = _staff_login(browser_restarted, sent.headers["Location"], staff)
    assert SESSION_ENDED_KEPT in login_page and "Erreur 400" not in login_page
    assert logged_in.headers["Location"] == page
    assert "le directeur change en janvier" in text(browser_restarted.get(page))


@sqlite_only
def test_a_logged_in_form_whose_token_changed_comes_back_with_its_text(app, make_coop, staff):
    client, _, page, form = _commenting(app, make_coop, staff)
    _new_token_elsewhere(client)
    sent = _send_comment(client, page, form)
    assert sent.status_code == 302 and sent.headers["Location"] == page
    back = text(client.get(page))
    assert FORM_EXPIRED in back and TEXT_KEPT in back
    assert "le directeur change en janvier" in _textarea(back, "comment-text")


@sqlite_only
def test_a_problem_reported_after_the_portal_session_ended_is_typed_back(app, make_coop):
    coop = make_coop("active")
    rt = app.extensions["coopflow"]
    client = app.test_client()
    log_in_mandataire(app, client, coop.mandataire_id)
    page = "/mon-espace/verification"
    token = csrf_token(text(client.get(page)))
    version = re.search(r'name="version" value="(\d+)"', text(client.get(page))).group(1)
    with rt.db.write() as session:  # a new password chosen on another computer
        session.get(Mandataire, coop.mandataire_id).password_hash = hash_password(NEW_PASSWORD)

    sent = client.post(
        f"{page}/signaler",
        data={"csrf_token": token, "version": version, "message": PROBLEM},
        headers={"Referer": f"http://localhost{page}"},
    )
    assert sent.status_code == 302
    assert sent.headers["Location"] == "/connexion?next=/mon-espace/verification"
    login = text(client.get(sent.headers["Location"]))
    assert PORTAL_LOOK in login and SESSION_ENDED_KEPT in login
    logged_in = client.post(
        sent.headers["Location"],
        data={"csrf_token": csrf_token(login), "email": coop.email, "password": NEW_PASSWORD},
    )
    assert logged_in.headers["Location"] == page
    back = text(client.get(page))
    assert PROBLEM in _textarea(back, "message") and TEXT_KEPT in back


@sqlite_only
def test_secrets_are_never_kept(app, make_coop):
    client = app.test_client()
    token = csrf_token(text(client.get("/connexion")))
    client.post(
        "/connexion",
        data={"csrf_token": token + "x", "email": "a@ac-nice.fr", "password": "Secret*2026"},
    )
    with client.session_transaction() as session:
        assert "Secret*2026" not in repr(dict(session))


@sqlite_only
@pytest.mark.parametrize(
    ("who", "path", "look"),
    [
        ("staff", "/admin/dossiers/{case}/commenter", "OCCE · Back-office"),
        ("mandataire", "/mon-espace/verification/signaler", PORTAL_LOOK),
    ],
)
def test_a_post_only_url_opened_gets_a_french_page(app, make_coop, staff, who, path, look):
    coop = make_coop("active")
    client = app.test_client()
    if who == "staff":
        log_in_staff(client, staff.id)
    else:
        log_in_mandataire(app, client, coop.mandataire_id)
    answer = client.get(path.format(case=coop.invitation_id))
    page = text(answer)
    assert answer.status_code == 405
    assert "Cette adresse ne s'ouvre pas directement" in page and look in page
    assert "Method Not Allowed" not in page


@sqlite_only
def test_a_kept_form_is_forgotten_after_an_hour(app, make_coop, staff):
    client, _, page, form = _commenting(app, make_coop, staff)
    _new_token_elsewhere(client)
    _send_comment(client, page, form)
    with client.session_transaction() as session:
        session[KEPT] = {**session[KEPT], "at": session[KEPT]["at"] - KEPT_FOR - 1}
    assert _textarea(text(client.get(page)), "comment-text").strip() == ""


def test_the_first_field_given_back_is_focused_and_nothing_else_changes(app):
    from web.kept_forms import refill

    page = (
        '<form method="post" action="/a"><textarea name="x"></textarea></form>'
        '<form method="post" action="/b"><input type="hidden" name="v" value="3">'
        '<input name="t" value="old"><input type="password" name="p">'
        '<textarea name="c" rows="2">\n</textarea></form>'
    )
    fields = [["v", "9"], ["t", 'a "b" data-coopflow-given-back'], ["p", "x"], ["c", "<c>"]]
    with app.test_request_context("/page"):
        out = refill(page, "/b", fields)
    assert out.startswith('<form method="post" action="/a"><textarea name="x"></textarea>')
    assert '<input type="hidden" name="v" value="3">' in out  # hidden: as the page says
    assert '<input autofocus name="t" value="a &#34;b&#34; data-coopflow-given-back">' in out
    assert '<input type="password" name="p">' in out
    assert '<textarea name="c" rows="2">&lt;c&gt;</textarea>' in out
