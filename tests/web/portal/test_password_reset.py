"""« Mot de passe perdu ? » through the real broker, worker threads and SMTP server: the
request, the email, the link, the new password, and what the page never tells."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests import factories
from tests.helpers import csrf_token, invitation_case, text_body
from tests.web.conftest import log_in_staff
from web import TOO_MANY_LOGINS
from web.portal.password_reset import SENT, TOO_MANY
from workflows.models import CaseEvent, Email, Mandataire
from workflows.password_hashing import hash_password

OLD = "Cooperative*2026"
NEW = "Vacances!Ete2027"
_LINK = re.compile(r"https?://\S+/mot-de-passe-perdu/\S+")


def _text(response) -> str:
    """The page as a reader sees its characters (``'`` rather than ``&#39;``, a space
    rather than the non-breaking one of French typography)."""
    return html.unescape(response.get_data(as_text=True)).replace("\u00a0", " ")


def _account(runtime, ad, *, state: str = "active", email: str = "eloise.martin@ac-nice.fr"):
    """A mandataire whose invitation case is in ``state`` (``invited``: no password yet).
    The invitation step is dropped on leaving ``sending``: no invitation email."""
    password_hash = hash_password(OLD) if state != "invited" else None
    person = factories.MandataireFactory(coop__ad=ad, email=email, password_hash=password_hash)
    fired = ["sent"]  # then, by the mandataire, the password chosen and the first login
    if state != "invited":
        fired.append("set_password")
    if state == "active":
        fired.append("first_login")
    with runtime.engine.transaction() as tx:
        case = invitation_case(tx, person, *fired)
    runtime.join()
    return case.id, person


def _ask(client, email: str):
    page = client.get("/mot-de-passe-perdu")
    return client.post(
        "/mot-de-passe-perdu",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "email": email},
    )


def _resets(smtp_server, email: str) -> list:
    return [m for m in smtp_server.to(email) if "nouveau mot de passe" in m["Subject"]]


def _link_path(message) -> str:
    match = _LINK.search(text_body(message))
    assert match, "no reset link in the email"
    return urlsplit(match.group(0)).path


def _choose(client, path: str, password: str, confirmation: str | None = None):
    page = client.get(path)
    return client.post(
        path,
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "password": password,
            "confirmation": password if confirmation is None else confirmation,
        },
    )


def _login(client, email: str, password: str):
    page = client.get("/connexion").get_data(as_text=True)
    return client.post(
        "/connexion", data={"csrf_token": csrf_token(page), "email": email, "password": password}
    )


def test_the_whole_journey(runtime, client, smtp_server, ad):
    case_id, person = _account(runtime, ad)
    login_page = _text(client.get("/connexion"))
    assert 'href="/mot-de-passe-perdu"' in login_page and "Mot de passe perdu ?" in login_page

    form = client.get("/mot-de-passe-perdu")
    assert form.status_code == 200 and "Votre adresse email" in _text(form)
    asked = _ask(client, " Eloise.Martin@ac-nice.fr ")
    assert asked.status_code == 200 and SENT in _text(asked)
    runtime.join()

    [message] = _resets(smtp_server, person.email)
    assert "Bonjour Éloïse" in text_body(message)
    path = _link_path(message)
    page = client.get(path)
    assert page.status_code == 200
    assert "Mot de passe" in _text(page) and "Confirmez votre mot de passe" in _text(page)

    weak = _choose(client, path, "eloise")
    assert weak.status_code == 422
    body = _text(weak)
    for rule in (
        "Le mot de passe doit contenir au moins un chiffre.",
        "Le mot de passe doit contenir au moins une lettre majuscule.",
        "Le mot de passe doit contenir au moins un caractère spécial",
        "Le mot de passe doit contenir au moins 8 caractères.",
        "Le mot de passe ne doit pas contenir votre prénom.",
    ):
        assert f"<li>{rule}" in body, rule
    mismatch = _choose(client, path, NEW, NEW + "x")
    assert mismatch.status_code == 422
    assert "Les deux mots de passe ne sont pas identiques." in _text(mismatch)

    done = _choose(client, path, NEW)
    assert done.status_code == 302
    assert urlsplit(done.headers["Location"]).path == "/connexion"
    assert "Votre nouveau mot de passe est enregistré" in _text(
        client.get(done.headers["Location"])
    )

    assert _login(client, person.email, OLD).status_code == 401
    ok = _login(client, person.email, NEW)
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/mon-espace")

    again = client.get(path)
    assert again.status_code == 410
    assert "déjà été utilisé" in _text(again) and "Demander un nouveau lien" in _text(again)
    assert _choose(client, path, "Autre*Mot2027").status_code == 410

    with runtime.db.read() as s:
        events = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        ).all()
        stored = s.get(Mandataire, person.id)
        assert stored.password_hash.startswith("$argon2id$")
    reset = [e for e in events if e.trigger == "request_reset"]
    assert len(reset) == 1 and reset[0].to_state == "active"
    assert reset[0].actor == "system formulaire « Mot de passe perdu »"
    assert events[-1].actor == f"mandataire:{person.id} Éloïse Martin"
    assert "Nouveau mot de passe choisi" in events[-1].comment


def test_every_session_opened_with_the_old_password_ends(runtime, app, client, smtp_server, ad):
    _, person = _account(runtime, ad)
    assert _login(client, person.email, OLD).status_code == 302
    assert client.get("/mon-espace").status_code == 200
    # A session from before the stamps (``m:<id>``) lasts until the password changes too.
    legacy = app.test_client()
    with legacy.session_transaction() as session:
        session["_user_id"] = f"m:{person.id}"
    assert legacy.get("/mon-espace").status_code == 200

    other = app.test_client()
    _ask(other, person.email)
    runtime.join()
    [message] = _resets(smtp_server, person.email)
    assert _choose(other, _link_path(message), NEW).status_code == 302

    for old_session in (client, legacy):
        gone = old_session.get("/mon-espace")
        assert gone.status_code == 302 and "/connexion" in gone.headers["Location"]


def test_an_expired_link_is_refused_and_a_new_one_can_be_asked(
    runtime, client, smtp_server, clock, ad
):
    _, person = _account(runtime, ad)
    _ask(client, person.email)
    runtime.join()
    path = _link_path(_resets(smtp_server, person.email)[0])
    clock.advance(timedelta(minutes=61))

    expired = client.get(path)
    assert expired.status_code == 410
    body = _text(expired)
    assert "Ce lien a expiré : il n'est valable qu'une heure." in body
    assert 'action="/mot-de-passe-perdu"' in body and "Demander un nouveau lien" in body
    token = csrf_token(client.get("/mot-de-passe-perdu").get_data(as_text=True))
    refused = client.post(path, data={"csrf_token": token, "password": NEW, "confirmation": NEW})
    assert refused.status_code == 410
    assert _login(client, person.email, OLD).status_code == 302  # nothing changed


def test_the_page_says_the_same_whoever_asks(runtime, client, smtp_server, ad):
    _, known = _account(runtime, ad)
    _, waiting = _account(runtime, ad, state="invited", email="paul.durand@ac-nice.fr")

    answers = {
        email: _ask(client, email) for email in (known.email, waiting.email, "personne@ac-nice.fr")
    }
    runtime.join()
    pages = {email: (r.status_code, r.get_data(as_text=True)) for email, r in answers.items()}
    assert len(set(pages.values())) == 1, "the answer depends on the address"
    assert pages[known.email][0] == 200 and SENT in html.unescape(pages[known.email][1])

    assert len(_resets(smtp_server, known.email)) == 1
    assert smtp_server.to(waiting.email) == [] and smtp_server.to("personne@ac-nice.fr") == []
    with runtime.db.read() as s:
        resets = s.scalars(select(Email.to_address).where(Email.kind == "password_reset")).all()
    assert resets == [known.email]


def test_two_requests_within_ten_minutes_send_one_email(runtime, client, smtp_server, ad):
    case_id, person = _account(runtime, ad)
    _ask(client, person.email)
    runtime.join()
    _ask(client, person.email)
    runtime.join()
    assert len(_resets(smtp_server, person.email)) == 1
    with runtime.db.read() as s:
        asked = s.scalars(
            select(CaseEvent.id).where(
                CaseEvent.case_id == case_id, CaseEvent.trigger == "request_reset"
            )
        ).all()
    assert len(asked) == 2  # both requests are recorded


def test_an_address_asked_too_often_gets_a_french_message(runtime, client, ad):
    for _ in range(5):
        assert _ask(client, "personne@ac-nice.fr").status_code == 200
    refused = _ask(client, "PERSONNE@ac-nice.fr")
    assert refused.status_code == 429
    body = _text(refused)
    assert TOO_MANY in body and "Trop de demandes de réinitialisation" in body
    assert "Votre adresse email" in body  # the form, on the portal's layout
    assert _ask(client, "quelquun@ac-nice.fr").status_code == 200  # another address


def test_one_computer_asking_for_many_addresses_is_stopped(runtime, client, ad):
    for n in range(20):
        assert _ask(client, f"personne{n}@ac-nice.fr").status_code == 200
    refused = _ask(client, "encore@ac-nice.fr")
    assert refused.status_code == 429 and TOO_MANY in _text(refused)


def test_too_many_logins_get_a_french_message_on_the_login_page(runtime, client, ad):
    page = client.get("/connexion").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "email": "eloise.martin@ac-nice.fr", "password": ""}
    for _ in range(10):
        assert client.post("/connexion", data=data).status_code == 422
    refused = client.post("/connexion", data=data)
    assert refused.status_code == 429
    body = _text(refused)
    assert TOO_MANY_LOGINS == "Trop de tentatives de connexion. Réessayez dans quelques minutes."
    assert TOO_MANY_LOGINS in body
    assert "<h1>Connexion</h1>" in body and 'value="eloise.martin@ac-nice.fr"' in body
    assert "Mot de passe perdu ?" in body


@pytest.fixture
def staff(ad):
    return factories.StaffFactory(ad=ad)


def test_the_reset_pages_are_public_but_a_staff_session_stays_out_of_the_portal(
    runtime, client, smtp_server, staff, ad
):
    _, person = _account(runtime, ad)
    log_in_staff(client, staff.id)
    assert client.get("/mot-de-passe-perdu").status_code == 200
    _ask(client, person.email)
    runtime.join()
    path = _link_path(_resets(smtp_server, person.email)[0])
    assert client.get(path).status_code == 200
    assert client.get("/mon-espace").status_code == 403
    assert client.get("/admin/").status_code == 200  # still a staff session
