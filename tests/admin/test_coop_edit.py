"""« Modifier la coopérative »: staff correct a coop and its mandataire from the coop's
page, with the import's checks, audited on every case of the coop; a new address of a
mandataire without an account gets the invitation; a hand-opened task closes with it."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests import factories
from tests.admin.conftest import csrf_token, log_in, text
from tests.helpers import manual_task
from workflows.engine.engine import Actor
from workflows.models import Case, CaseEvent, Coop, Mandataire, Task, Token

SYSTEM = Actor.system("test")


def _form(client, coop_id: int) -> dict[str, str]:
    """The edit form as the page fills it in."""
    page = text(client.get(f"/admin/cooperatives/{coop_id}/modifier"))
    fields = dict(re.findall(r'<input[^>]*name="([\w-]+)"[^>]*value="([^"]*)"', page))
    fields.update(dict(re.findall(r'<input[^>]*value="([^"]*)"[^>]*name="([\w-]+)"', page)[::-1]))
    fields["csrf_token"] = csrf_token(page)
    return {k: v for k, v in fields.items() if k != "close_tasks"}


def _post(client, coop_id: int, **changes: str):
    data = {**_form(client, coop_id), **changes}
    return client.post(f"/admin/cooperatives/{coop_id}/modifier", data=data)


def _events(rt, coop_id: int) -> list[CaseEvent]:
    with rt.db.read() as session:
        return list(
            session.scalars(
                select(CaseEvent)
                .join(Case)
                .where(Case.coop_id == coop_id, CaseEvent.kind == "coop_edit")
            )
        )


def test_staff_correct_the_coop_and_the_name_of_its_mandataire(client, rt, staff06, make_case):
    case = make_case("bounced")
    log_in(client, staff06)
    page = text(client.get(f"/admin/cooperatives/{case.coop_id}"))
    assert "Modifier la coopérative ou son mandataire" in page

    response = _post(
        client,
        case.coop_id,
        name="Coopérative de l'école Saint-Exupéry",
        city="Nice",
        postal_code="06 100",
        mandataire_first_name="Hélène",
        mandataire_last_name="Péraud",
        comment="Appel de la directrice",
    )
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "Coopérative corrigée." in page
    assert "Nom de la coopérative : « " in page
    with rt.db.read() as session:
        coop = session.get(Coop, case.coop_id)
        person = session.scalars(select(Mandataire).where(Mandataire.coop_id == coop.id)).one()
        assert (coop.name, coop.city, coop.postal_code) == (
            "Coopérative de l'école Saint-Exupéry",
            "Nice",
            "06100",
        )
        assert person.full_name == "Hélène Péraud"
    [event] = _events(rt, case.coop_id)
    assert event.actor == str(Actor.staff(staff06))
    assert "Appel de la directrice" in event.comment
    assert event.payload["mandataire_last_name"]["après"] == "Péraud"
    # The name is what the case page shows now.
    assert "Hélène Péraud" in text(client.get(f"/admin/dossiers/{case.id}"))


def test_a_new_address_revokes_the_old_link_and_resends_the_invitation(
    client, rt, staff06, make_case
):
    case = make_case("expired")
    with rt.engine.transaction() as tx:
        person = tx.session.scalars(select(Mandataire).where(Mandataire.coop_id == case.coop_id))
        rt.links.issue(  # the link the first invitation carried
            tx.session,
            purpose="invitation",
            mandataire_id=person.one().id,
            case_id=case.id,
            now=tx.now,
            expires_at=tx.now + timedelta(days=7),
        )
    log_in(client, staff06)
    response = _post(client, case.coop_id, mandataire_email="Nouvelle.Adresse@AC-NICE.fr")
    assert response.status_code == 302
    assert "L'invitation est renvoyée à la nouvelle adresse." in text(
        client.get(response.headers["Location"])
    )
    with rt.db.read() as session:
        found = session.get(Case, case.id)
        assert found.state == "sending"
        person = session.scalars(select(Mandataire).where(Mandataire.coop_id == case.coop_id)).one()
        assert person.email == "nouvelle.adresse@ac-nice.fr"
        tokens = session.scalars(select(Token).where(Token.mandataire_id == person.id)).all()
        assert len(tokens) == 1 and tokens[0].revoked_at is not None


def test_the_import_checks_refuse_bad_values_and_nothing_changes(
    client, rt, staff06, make_case, ad
):
    case = make_case("expired")
    other = make_case("expired")
    with rt.db.read() as session:
        taken = session.scalars(
            select(Mandataire.email).where(Mandataire.coop_id == other.coop_id)
        ).one()
    log_in(client, staff06)
    response = _post(
        client,
        case.coop_id,
        name="",
        postal_code="6100",
        school_email="pas une adresse",
        mandataire_email="quelqu.un@gmail.com",
    )
    page = text(response)
    assert response.status_code == 422
    assert "Nom de la coopérative manquant." in page
    assert "le tableur a-t-il supprimé le 0 initial ?" in page
    assert "Email de l'école « pas une adresse » invalide." in page
    assert "domaine académique de l'AD06" in page
    response = _post(client, case.coop_id, mandataire_email=taken)
    assert "Cette adresse est déjà celle d'un autre mandataire." in text(response)
    with rt.db.read() as session:
        assert session.get(Case, case.id).state == "expired"
    assert _events(rt, case.coop_id) == []


def test_an_account_keeps_its_login_address(client, rt, staff06, make_case):
    case = make_case("expired")
    with rt.db.read() as session:
        person_id = session.scalars(
            select(Mandataire.id).where(Mandataire.coop_id == case.coop_id)
        ).one()
    with rt.engine.transaction() as tx:
        tx.session.get(Mandataire, person_id).password_hash = "argon2-hash"
    log_in(client, staff06)
    response = _post(client, case.coop_id, mandataire_email="autre@ac-nice.fr")
    assert "son adresse de connexion ne se change pas ici" in text(response)


def test_someone_else_s_change_meanwhile_is_shown_not_overwritten(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    form = _form(client, case.coop_id)
    with rt.engine.transaction() as tx:
        tx.session.get(Coop, case.coop_id).city = "Antibes"
    response = client.post(
        f"/admin/cooperatives/{case.coop_id}/modifier", data={**form, "city": "Grasse"}
    )
    page = text(response)
    assert "vient d'être modifiée par quelqu'un d'autre" in page
    assert "Valeur enregistrée entre-temps : « Antibes »" in page
    with rt.db.read() as session:
        assert session.get(Coop, case.coop_id).city == "Antibes"


def test_a_hand_opened_task_is_closed_with_the_fix(client, rt, staff06, make_case):
    case = make_case("expired")
    with rt.engine.transaction() as tx:
        title = "Appeler l'école pour la bonne adresse"
        task_id = manual_task(tx, tx.lock(case.id), title, days=2, by=Actor.staff(staff06)).id
    log_in(client, staff06)
    page = text(client.get(f"/admin/cooperatives/{case.coop_id}/modifier"))
    assert "Appeler l'école pour la bonne adresse" in page
    data = {**_form(client, case.coop_id), "city": "Cannes", "close_tasks": str(task_id)}
    response = client.post(f"/admin/cooperatives/{case.coop_id}/modifier", data=data)
    assert response.status_code == 302
    with rt.db.read() as session:
        closed = session.get(Task, task_id)
        assert closed.status == "done"
        assert closed.closed_by == str(Actor.staff(staff06))


def test_read_only_staff_and_other_ads_cannot_edit(client, staff06, readonly06, make_case, ad50):
    case = make_case("expired")
    elsewhere = make_case("expired", of=ad50)
    log_in(client, readonly06)
    assert "Modifier la coopérative" not in text(client.get(f"/admin/cooperatives/{case.coop_id}"))
    assert client.get(f"/admin/cooperatives/{case.coop_id}/modifier").status_code == 403
    log_in(client, staff06)
    assert client.get(f"/admin/cooperatives/{elsewhere.coop_id}/modifier").status_code == 404
    assert factories  # the factories made these coops
