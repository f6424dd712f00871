"""The affiliation's staff pages through the back-office: « Valider les pièces » (the
three items, each its own form, who checked it and when; « Renvoyer pour correction »),
« Relancer et accorder un délai », and « Relevé bancaire » (a CSV in, its report out).
Scoped to the staff's AD, CSRF required, French errors that change nothing."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.admin.conftest import csrf_token, log_in, text
from tests.helpers import active_account
from tests.workflows.processes.affiliation.staff_cases import (
    NEW_MANDATAIRE,
    awaiting,
    draft_of,
    events,
    read_case,
)
from workflows.engine.scheduling import tick
from workflows.models import Case, CaseEvent, StatementLine

PAGE = "/admin/dossiers/{}/adhesion/pieces"


def _page(client: Any, case_id: int) -> tuple[str, str]:
    response = client.get(PAGE.format(case_id))
    assert response.status_code == 200, response.status_code
    return text(response), csrf_token(response.get_data(as_text=True))


def _post(client: Any, case: Case, path: str, prefix: str, **fields: Any) -> Any:
    page, token = _page(client, case.id)
    # A form the page does not show (forged): the version of another of its forms.
    version = re.search(rf'name="(?:{prefix}|payment)-version" type="hidden" value="(\d+)"', page)
    assert version, f"no version in the {prefix} form"
    data = {f"{prefix}-csrf_token": token, f"{prefix}-version": version.group(1)}
    data.update({f"{prefix}-{k}": v for k, v in fields.items()})
    return client.post(f"/admin/dossiers/{case.id}/adhesion/{path}", data=data)


def _pay(client: Any, case: Case, amount: str = "136,99", **kw: Any) -> Any:
    fields = {"amount": amount, "received_on": "2026-09-05", "reference": "VIR 77", **kw}
    return _post(client, case, "paiement", "payment", **fields)


def _event_count(rt: Any, case_id: int) -> int:
    with rt.db.read() as session:
        return int(session.scalar(select(func.count()).where(CaseEvent.case_id == case_id)) or 0)


def test_the_case_page_links_the_items_page_and_no_bare_check_trigger(rt, client, ad, staff06):
    case = awaiting(rt.engine, ad)
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case.id}"))
    assert "Valider les pièces de l'adhésion" in page
    assert PAGE.format(case.id) in page
    # The triggers the page fires are not offered as comment-only forms of the case page.
    for trigger in ("check_payment", "check_commitment", "check_change_form", "send_back"):
        assert f"/declencher/{trigger}" not in page


def test_an_overdue_validation_recommends_the_items_page(rt, client, clock, ad, staff06):
    case = awaiting(rt.engine, ad)
    clock.advance(timedelta(days=21, minutes=1))
    tick(rt.engine)
    assert read_case(rt.engine, case.id).stuck_reason == "affiliation_validation_overdue"
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case.id}"))
    assert "Action recommandée : <strong>Valider les pièces</strong>" in page
    assert f'class="btn btn-danger" href="{PAGE.format(case.id)}"' in page


def test_each_item_by_its_form_who_and_when_then_validated(rt, client, ad, staff06):
    case = awaiting(rt.engine, ad)
    log_in(client, staff06)
    page, _ = _page(client, case.id)
    assert "136,99 €" in page and f"ADH-2026-{case.coop.affiliation_number}" in page
    assert "Formulaire de changement" not in page  # no change declared

    paid = _pay(client, case)
    assert paid.status_code == 302 and paid.location.endswith(PAGE.format(case.id))
    page = text(client.get(paid.location))
    assert "« Paiement reçu » enregistré. Reste à valider" in page
    assert "Validé par Claire Agent le 07/09/2026" in page
    assert "136,99 € reçus le 05/09/2026, référence VIR 77" in page

    done = _post(client, case, "engagement", "commitment", received="y", note="Reçu ce matin.")
    assert done.status_code == 302 and done.location.endswith(f"/admin/dossiers/{case.id}")
    assert "Adhésion validée" in text(client.get(done.location))
    now = read_case(rt.engine, case.id)
    assert now.state == "validated"
    assert now.data["checks"]["commitment"]["note"] == "Reçu ce matin."
    [payment, commitment, validate] = events(
        rt.engine, case.id, "check_payment", "check_commitment", "validate"
    )
    assert payment.actor == commitment.actor == validate.actor == f"staff:{staff06.id} Claire Agent"
    # The page is for an affiliation awaiting validation only: now the case page says so.
    back = client.get(PAGE.format(case.id))
    assert back.status_code == 302
    assert "Cette tâche n'est plus à faire" in text(client.get(back.location))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"amount": "130"},
            "Le montant reçu (130,00 €) ne correspond pas au montant de l'adhésion (136,99 €).",
        ),
        ({"amount": ""}, "Indiquez le montant reçu, par exemple 136,99."),
        ({"amount": "douze"}, "Indiquez un montant en euros, par exemple 12,50."),
        ({"received_on": "2026-09-08"}, "La date de réception ne peut pas être dans le futur."),
        ({"received_on": "31/02/2026"}, "Date invalide : utilisez le format jj/mm/aaaa."),
        ({"received_on": ""}, "Indiquez la date de réception (jj/mm/aaaa)."),
        ({"reference": " "}, "Indiquez la référence du paiement."),
    ],
)
def test_a_bad_payment_is_refused_in_french_and_changes_nothing(
    rt, client, ad, staff06, fields, message
):
    case = awaiting(rt.engine, ad)
    log_in(client, staff06)
    before = _event_count(rt, case.id)
    response = _pay(client, case, **fields)
    assert response.status_code == 422
    assert message in text(response)
    assert _event_count(rt, case.id) == before
    assert "checks" not in read_case(rt.engine, case.id).data


def test_a_payment_typed_by_hand_as_dd_mm_yyyy(rt, client, ad, staff06):
    case = awaiting(rt.engine, ad)
    log_in(client, staff06)
    assert _pay(client, case, amount="136.99", received_on="05/09/2026").status_code == 302
    assert read_case(rt.engine, case.id).data["checks"]["payment"]["received_on"] == "2026-09-05"


def test_the_commitment_needs_its_box_ticked(rt, client, ad, staff06):
    case = awaiting(rt.engine, ad)
    log_in(client, staff06)
    response = _post(client, case, "engagement", "commitment", note="rien")
    assert response.status_code == 422
    assert "Cochez la case : l'engagement signé est-il bien reçu ?" in text(response)
    assert "checks" not in read_case(rt.engine, case.id).data


def test_the_change_form_shows_the_change_declared_and_is_needed(rt, client, ad, staff06):
    case = awaiting(rt.engine, ad, NEW_MANDATAIRE)
    log_in(client, staff06)
    page, _ = _page(client, case.id)
    assert "nouveau mandataire : Inès Nouvelle <ines.nouvelle@ac-nice.fr>" in page
    _pay(client, case)
    _post(client, case, "engagement", "commitment", received="y")
    assert read_case(rt.engine, case.id).state == "awaiting_validation"
    done = _post(client, case, "changement", "change_form", handled="y", note="Fiche à jour.")
    assert done.status_code == 302
    assert read_case(rt.engine, case.id).state == "validated"


def test_a_change_form_posted_without_a_change_is_refused(rt, client, ad, staff06):
    case = awaiting(rt.engine, ad)
    log_in(client, staff06)
    response = _post(client, case, "changement", "change_form", handled="y")
    assert response.status_code == 302
    assert "Aucun changement de mandataire" in text(client.get(response.location))
    assert "checks" not in read_case(rt.engine, case.id).data


def test_sent_back_for_correction_with_its_comment(rt, client, ad, staff06):
    case = awaiting(rt.engine, ad)
    log_in(client, staff06)
    empty = _post(client, case, "renvoyer", "send_back", comment="  ")
    assert empty.status_code == 422
    assert "Dites au mandataire ce qu'il doit corriger" in text(empty)
    done = _post(client, case, "renvoyer", "send_back", comment="Il manque la classe de CM2.")
    assert done.status_code == 302
    now = read_case(rt.engine, case.id)
    assert (now.state, now.data["returned_comment"]) == ("returned", "Il manque la classe de CM2.")


def test_a_stale_page_is_refused(rt, client, ad, staff06):
    case = awaiting(rt.engine, ad)
    log_in(client, staff06)
    _, token = _page(client, case.id)
    _pay(client, case)
    stale = client.post(
        f"/admin/dossiers/{case.id}/adhesion/engagement",
        data={
            "commitment-csrf_token": token,
            "commitment-version": str(case.version),
            "commitment-received": "y",
        },
    )
    assert stale.status_code == 302
    assert "vient d'être modifié" in text(client.get(stale.location))
    assert "commitment" not in read_case(rt.engine, case.id).data["checks"]


def test_another_ads_case_is_not_found_and_readonly_refused(
    rt, client, ad, ad50, staff06, readonly06
):
    theirs = awaiting(rt.engine, ad50)
    log_in(client, staff06)
    assert client.get(PAGE.format(theirs.id)).status_code == 404
    _, token = _page(client, awaiting(rt.engine, ad).id)
    forged = client.post(
        f"/admin/dossiers/{theirs.id}/adhesion/engagement",
        data={
            "commitment-csrf_token": token,
            "commitment-version": "3",
            "commitment-received": "y",
        },
    )
    assert forged.status_code == 404
    assert "checks" not in read_case(rt.engine, theirs.id).data
    log_in(client, readonly06)
    assert client.get(PAGE.format(awaiting(rt.engine, ad).id)).status_code == 403


def test_the_forms_need_their_csrf_token(rt, client, app, ad, staff06):
    app.config["WTF_CSRF_ENABLED"] = True
    case = awaiting(rt.engine, ad)
    log_in(client, staff06)
    response = client.post(
        f"/admin/dossiers/{case.id}/adhesion/engagement",
        data={"commitment-version": str(case.version), "commitment-received": "y"},
    )
    assert response.status_code in (302, 400, 422)
    assert "checks" not in read_case(rt.engine, case.id).data
    assert not events(rt.engine, case.id, "check_commitment")


def test_an_overdue_coop_gets_a_new_deadline(rt, client, clock, ad, staff06):
    person = active_account(rt.engine, ad)
    case_id = draft_of(rt.engine, person.coop_id)
    clock.advance(datetime(2026, 10, 1, 8, 0, tzinfo=UTC) - clock.now())
    tick(rt.engine)
    log_in(client, staff06)
    case_page = text(client.get(f"/admin/dossiers/{case_id}"))
    assert "Relancer et accorder un délai" in case_page
    assert f"/admin/dossiers/{case_id}/adhesion/delai" in case_page
    assert "/declencher/extend" not in case_page
    url = f"/admin/dossiers/{case_id}/adhesion/delai"
    page = client.get(url)
    assert "30/09/2026" in text(page)  # the current deadline
    token = csrf_token(page.get_data(as_text=True))
    version = str(read_case(rt.engine, case_id).version)

    def post(day: str) -> Any:
        return client.post(
            f"{url}/accorder",
            data={"extend-csrf_token": token, "extend-version": version, "extend-deadline": day},
        )

    past = post("2026-09-30")
    assert past.status_code == 422
    assert "La nouvelle date limite doit être après aujourd'hui." in text(past)
    assert read_case(rt.engine, case_id).state == "overdue"
    done = post("31/10/2026")
    assert done.status_code == 302
    assert "Délai accordé jusqu'au 31/10/2026" in text(client.get(done.location))
    now = read_case(rt.engine, case_id)
    assert (now.state, now.data["deadline"]) == ("draft", "2026-10-31")


# « Relevé bancaire » -------------------------------------------------------------------


def _statement(client: Any, content: bytes, name: str = "releve.csv", ad_id: Any = None) -> Any:
    page = client.get("/admin/releve-bancaire/")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    chosen = (
        ad_id
        if ad_id is not None
        else re.search(r'<option selected value="(\d+)"', page.get_data(as_text=True)).group(1)
    )
    return client.post(
        "/admin/releve-bancaire/",
        data={"csrf_token": token, "ad_id": str(chosen), "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def _plain(response: Any) -> str:
    """The page's words, without its tags (« <strong>1</strong> paiement validé »)."""
    return re.sub(r"<[^>]+>", "", text(response))


def test_a_statement_loaded_its_report_then_loaded_again(rt, client, ad, staff06):
    case = awaiting(rt.engine, ad)
    ref = f"ADH-2026-{case.coop.affiliation_number}"
    content = (
        "Date;Libellé;Débit;Crédit\r\n"
        f"05/09/2026;VIR {ref};;136,99\r\n"
        "05/09/2026;PRLV EDF;12,00;\r\n"
        "06/09/2026;VIR SANS REFERENCE;;10,00\r\n"
    ).encode("cp1252")
    log_in(client, staff06)
    first = _statement(client, content)
    assert first.status_code == 200
    report = _plain(first)
    assert "1 paiement validé" in report and "1 ligne non rapprochée" in report
    assert "1 débit ignoré" in report and "Sans référence d'adhésion" in report
    assert f'href="/admin/dossiers/{case.id}"' in text(first)
    assert read_case(rt.engine, case.id).data["checks"]["payment"]["source"] == "statement"
    again = _plain(_statement(client, content))
    assert "0 paiement validé" in again and "1 ligne déjà chargée" in again
    assert len(events(rt.engine, case.id, "check_payment")) == 1


def test_a_statement_refused_whole_in_french(rt, client, ad, staff06):
    log_in(client, staff06)
    for content, name, message in (
        (b"x;y\r\n1;2\r\n", "releve.csv", "Ligne d'en-tête introuvable"),
        (b"PK\x03\x04...", "releve.csv", "classeur de tableur renommé"),
        (b"Date;Libelle;Credit\r\n", "releve.xlsx", "au format CSV (.csv)"),
    ):
        response = _statement(client, content, name)
        assert response.status_code == 422 and message in text(response)
    with rt.db.read() as session:
        assert session.scalar(select(func.count()).select_from(StatementLine)) == 0


def test_a_statement_of_another_ad_is_refused(rt, client, ad, ad50, staff06):
    log_in(client, staff06)
    response = _statement(client, b"Date;Libelle;Credit\r\n", ad_id=ad50.id)
    assert response.status_code == 422
    assert "Choisissez l'AD dont c'est le relevé." in text(response)


def test_national_staff_choose_the_ad(rt, client, ad, ad50, national):
    case = awaiting(rt.engine, ad50)
    log_in(client, national)
    content = (
        f"Date;Libellé;Crédit\r\n05/09/2026;ADH-2026-{case.coop.affiliation_number};136,99\r\n"
    )
    response = _statement(client, content.encode(), ad_id=ad50.id)
    assert "1 paiement validé" in _plain(response)
    assert "payment" in read_case(rt.engine, case.id).data["checks"]


def test_the_statement_page_is_for_acting_staff(client, readonly06):
    log_in(client, readonly06)
    assert client.get("/admin/releve-bancaire/").status_code == 403
