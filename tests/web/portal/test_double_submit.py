"""A second click does nothing twice on the portal: « Tout est correct », « Signaler un
problème », « Enregistrer les coordonnées » and the password pages, posted twice from
the same page, act once and answer the second time as the first."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.helpers import csrf_token
from tests.security.conftest import issue_link
from tests.web.conftest import PROBLEM, case_row, form_value, log_in_mandataire, text
from web.auth import RESET_PURPOSE
from workflows.models import CaseEvent, Mandataire, Task

SPACE = "/mon-espace/verification"
PASSWORD = "Choisi*Secret-7315"


def _fields(page: str, action: str, **extra: str) -> dict[str, str]:
    """What the browser posts with one of the space page's forms (its own token)."""
    start = page.index(f'action="{SPACE}/{action}')
    form = page[start : page.index("</form>", start)]
    fields = {
        "csrf_token": csrf_token(page),
        "submission": form_value(form, "submission"),
        **extra,
    }
    if 'name="version"' in form:
        fields["version"] = form_value(form, "version")
    if 'name="fingerprint"' in form:
        fields["fingerprint"] = form_value(form, "fingerprint")
    return fields


def _transitions(runtime, case_id: int) -> list[str]:
    with runtime.db.read() as session:
        return list(
            session.scalars(
                select(CaseEvent.trigger).where(
                    CaseEvent.case_id == case_id, CaseEvent.kind == "transition"
                )
            )
        )


def test_tout_est_correct_twice_confirms_once_and_thanks_twice(runtime, app, client, make_coop):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    fields = _fields(text(client.get(SPACE)), "confirmer")

    first = client.post(f"{SPACE}/confirmer", data=fields)
    second = client.post(f"{SPACE}/confirmer", data=fields)
    assert first.status_code == 302 and first.headers["Location"] == "/mon-espace"
    # Not « Ce dossier vient d'être modifié » (409): the first click's answer.
    assert second.status_code == 303 and second.headers["Location"] == "/mon-espace"
    home = text(client.get("/mon-espace"))
    assert "vous avez confirmé que votre espace est correct" in home
    assert case_row(runtime, coop.space_id).state == "confirmed"
    assert _transitions(runtime, coop.space_id).count("confirm") == 1


def test_signaler_un_probleme_twice_opens_one_task(runtime, app, client, make_coop):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    fields = _fields(text(client.get(SPACE)), "signaler", message=PROBLEM)
    first = client.post(f"{SPACE}/signaler", data=fields)
    second = client.post(f"{SPACE}/signaler", data=fields)
    assert (first.status_code, second.status_code) == (302, 303)
    assert second.headers["Location"] == first.headers["Location"]
    assert "Votre signalement est envoyé" in text(client.get("/mon-espace"))
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 1


def test_the_same_form_with_another_message_is_a_new_submission(runtime, app, client, make_coop):
    """Back, another message, « Signaler » again: not a repeat (the case has moved on,
    so the page says so instead of pretending the second message was sent)."""
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    fields = _fields(text(client.get(SPACE)), "signaler", message=PROBLEM)
    client.post(f"{SPACE}/signaler", data=fields)
    other = client.post(f"{SPACE}/signaler", data={**fields, "message": "Autre chose encore."})
    assert other.status_code == 409


def test_saving_the_details_twice_says_what_was_saved(runtime, app, client, make_coop):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    details = {"street": "5 rue du Lycée", "postal_code": "06000", "city": "Nice", "phone": ""}
    fields = _fields(text(client.get(SPACE)), "coordonnees", **details)
    client.post(f"{SPACE}/coordonnees", data=fields)
    client.get("/mon-espace")  # the first answer's message, read
    second = client.post(f"{SPACE}/coordonnees", data=fields)
    assert second.status_code == 303
    page = text(client.get(second.headers["Location"]))
    assert "Enregistré : " in page and "Rien n'a changé" not in page


def _password_twice(app, link: str, second_password: str = PASSWORD):
    client = app.test_client()
    page = text(client.get(link))
    fields = {
        "csrf_token": csrf_token(page),
        "submission": form_value(page, "submission"),
        "password": PASSWORD,
        "confirmation": PASSWORD,
    }
    first = client.post(link, data=fields)
    again = {**fields, "password": second_password, "confirmation": second_password}
    return client, first, client.post(link, data=again)


def test_the_invitation_password_twice_is_saved_once_and_leads_to_the_login(
    runtime, app, make_coop
):
    invited = make_coop("invited")
    link = f"/invitation/{issue_link(runtime, invited, 'invitation', timedelta(days=7))}"
    client, first, second = _password_twice(app, link)
    assert first.status_code == 302
    # Not « Ce lien a déjà été utilisé »: the login page, with the first answer.
    assert second.status_code == 303 and second.headers["Location"] == first.headers["Location"]
    assert "Votre mot de passe est enregistré" in text(client.get(second.headers["Location"]))
    assert _transitions(runtime, invited.invitation_id).count("set_password") == 1


def test_a_reset_password_twice_is_saved_once(runtime, app, make_coop):
    coop = make_coop("active")
    link = f"/mot-de-passe-perdu/{issue_link(runtime, coop, RESET_PURPOSE, timedelta(hours=1))}"
    _client, first, second = _password_twice(app, link)
    assert (first.status_code, second.status_code) == (302, 303)


def test_another_password_on_the_same_page_is_not_taken_for_a_repeat(runtime, app, make_coop):
    """Back, another password, « Enregistrer »: the link has served, and the page says
    so, rather than « enregistré » for a password that was not."""
    coop = make_coop("active")
    link = f"/mot-de-passe-perdu/{issue_link(runtime, coop, RESET_PURPOSE, timedelta(hours=1))}"
    _client, first, second = _password_twice(app, link, "Autre*Secret-1234")
    assert first.status_code == 302
    assert second.status_code == 410 and "déjà été utilisé" in text(second)
    with runtime.db.read() as session:
        assert session.get(Mandataire, coop.mandataire_id).password_hash.startswith("$argon2id$")
