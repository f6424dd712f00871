"""« Solde Banque Postale » on a phone (360 px), in a real browser without script (the
portal's CSP), as the demo mandataire who must fill the attestation tries it: from the
checklist to the form, one box left unticked and its error read next to it, what was
typed kept; completed; the page reloading itself while the embedded worker renders the
letter to La Banque Postale, then the letter downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_affiliation_browser import PASSWORD, WIDTH, _accessible, _fits, _said
from tests.helpers import case_of
from tests.transfer_helpers import banking_done
from web.portal.attestation_form import unticked
from workflows.models import Mandataire
from workflows.password_hashing import hash_password
from workflows.processes.banque_postale_transfer.definition import STATEMENTS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PROCESS = "banque_postale_transfer"
OLD_ACCOUNT = "FR51 2004 1010 0501 2345 6A02 084"


def log_in(runtime, page, live_server: str, person: Mandataire) -> None:
    """``person`` logged in through the login page, on a phone."""
    with runtime.db.write() as session:
        session.get(Mandataire, person.id).password_hash = hash_password(PASSWORD)
    page.set_viewport_size({"width": WIDTH, "height": 740})
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse email").fill(person.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.wait_for_url("**/mon-espace")


def test_one_box_unticked_then_the_attestation_and_its_letter_on_a_phone(
    runtime, live_server, page, ad
):
    person = banking_done(runtime.engine, ad)
    log_in(runtime, page, live_server, person)
    line = page.locator('li[data-process="banque_postale_transfer"]')
    said = line.inner_text().replace("\u00a0", " ")
    assert "À faire : remplissez l'attestation pour recevoir le solde" in said
    line.get_by_role("link", name="Remplir l'attestation").click()
    page.wait_for_url("**/mon-espace/solde-banque-postale")
    assert page.get_by_role("heading", level=1).inner_text() == "Solde Banque Postale"
    assert "vous attendrez en vain le solde" in _said(page, "#avertissement")
    _fits(page)
    _accessible(page)

    # Two boxes of three: the third's error is read next to it, nothing stored.
    page.get_by_label(STATEMENTS["cheques_issued"]).check()
    page.get_by_label(STATEMENTS["cheques_deposited"]).check()
    page.get_by_label("Numéro du compte La Banque Postale (IBAN)").fill(OLD_ACCOUNT.lower())
    page.get_by_label("Solde du compte (en euros)").fill("1 800,00")
    page.get_by_role("button", name="Envoyer l'attestation").click()
    box = page.get_by_label(STATEMENTS["no_operation"])
    box.wait_for()
    assert box.get_attribute("aria-invalid") == "true"
    assert "no_operation-error" in (box.get_attribute("aria-describedby") or "")
    assert _said(page, "#no_operation-error") == unticked(STATEMENTS["no_operation"]).replace(
        "\u00a0", " "
    )
    assert "Rien n'a été enregistré" in _said(page, "#erreurs")
    assert page.locator("#cheques_issued-error").count() == 0
    assert page.get_by_label(STATEMENTS["cheques_issued"]).is_checked()  # kept as ticked
    assert page.get_by_label("Solde du compte (en euros)").input_value() == "1 800,00"
    assert "attestation" not in case_of(runtime.engine, person.coop_id, PROCESS).data
    _fits(page)
    _accessible(page)

    # Completed: the letter is rendered by the worker while the page reloads itself.
    box.check()
    page.get_by_role("button", name="Envoyer l'attestation").click()
    assert "Votre attestation est enregistrée" in _said(page, ".flash")
    link = page.locator("#lettre").get_by_role(
        "link", name="Demande de clôture et de reversement du solde"
    )
    link.wait_for(timeout=30_000)
    state = _said(page, "#etat")
    assert "Attestation reçue : votre AD envoie la demande à La Banque Postale" in state
    assert "1 800,00 €" in _said(page, "#solde-declare")
    _fits(page)
    with page.expect_download() as download:
        link.click()
    content = Path(download.value.path()).read_bytes()
    assert content.startswith(b"%PDF")
    case = case_of(runtime.engine, person.coop_id, PROCESS)
    assert case.state == "ready_to_send"
    assert download.value.suggested_filename.endswith(f"-{case.id}.pdf")
    attestation = case.data["attestation"]
    assert attestation["declared_cents"] == 180000
    assert attestation["old_account"] == OLD_ACCOUNT.replace(" ", "")
    assert attestation["ip"] == "127.0.0.1"
