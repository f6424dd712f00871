"""« Avance d'urgence » on a phone (360 px), in a real browser without script (the
portal's CSP), as the demo mandataire eligible for an advance tries it: the request with
an amount above the declared balance, its error read next to it, then a good one with
the supplier's quote; reviewed and approved by the AD's treasurer, the contract
rendered by the embedded worker while the page reloads itself; downloaded, a name
that is not the mandataire's refused, then signed; the signed copy offered."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.browser.test_affiliation_browser import _accessible, _fits, _said
from tests.browser.test_transfer_browser import log_in
from tests.transfer_helpers import eligible, fire, officer
from tests.web.portal.test_advance_pages import advances
from web.portal.advance_form import above_balance, name_mismatch

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

QUOTE = {"name": "devis.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7\n" + b"2" * 400}


def _spaced(said: str) -> str:
    return said.replace("\u00a0", " ").replace("\u202f", " ")


def _fill(page, amount: str) -> None:
    page.get_by_label("Le séjour ou le voyage").fill("Classe de découverte à Auron")
    page.get_by_label("Date du départ").fill("2027-03-15")
    page.get_by_label("Ce que l'avance paie").fill("Acompte de l'hébergement")
    page.get_by_label("Le prestataire qui attend le paiement").fill("PEP 06 Séjours")
    page.get_by_label("IBAN du prestataire").fill("FR76 1010 7001 0112 3456 7890 129")
    page.get_by_label("Montant de l'avance (en euros)").fill(amount)
    page.get_by_label("Devis ou facture du prestataire (PDF, PNG ou JPEG)").set_input_files(QUOTE)
    page.get_by_role("button", name="Envoyer la demande d'avance").click()


def _state_of(runtime, coop_id: int, state: str, timeout: float = 30.0) -> int:
    """Wait until the coop's advance reaches ``state`` (the worker's steps): its id."""
    deadline = time.monotonic() + timeout
    while True:
        [case] = advances(runtime, coop_id)
        if case.state == state:
            return case.id
        assert time.monotonic() < deadline, (case.state, state)
        time.sleep(0.05)


def test_the_request_then_the_signature_on_a_phone(runtime, live_server, page, ad):
    person = eligible(runtime.engine, ad)
    log_in(runtime, page, live_server, person)
    page.goto(f"{live_server}/mon-espace/avance")
    assert page.get_by_role("heading", level=1).inner_text() == "Avance d'urgence"
    assert "demandez un délai de paiement au prestataire" in _said(page, "#conditions")
    _fits(page)
    _accessible(page)

    # More than the balance declared in the attestation: refused next to the amount.
    _fill(page, "1 800,01")
    amount = page.get_by_label("Montant de l'avance (en euros)")
    amount.wait_for()
    assert amount.get_attribute("aria-invalid") == "true"
    assert _said(page, "#amount-error") == _spaced(above_balance(180000))
    assert "(1 800,00 €)" in _spaced(_said(page, "#amount-error"))
    assert amount.input_value() == "1 800,01"  # what was typed, to correct
    assert advances(runtime, person.coop_id) == []
    _fits(page)

    _fill(page, "800")
    assert "Votre demande d'avance est envoyée" in _said(page, ".flash")
    case_id = _state_of(runtime, person.coop_id, "under_review")  # the reviewers told
    page.reload()
    assert "Demande en cours d'examen par votre AD" in _said(page, "#etat")
    assert "800,00 €" in _spaced(_said(page, "#montant"))
    _fits(page)

    # The AD's treasurer approves; the worker renders the contract.
    fire(runtime.engine, case_id, "approve", actor=officer(ad))
    page.reload()
    sign = page.get_by_role("button", name="Signer le contrat")
    sign.wait_for(timeout=30_000)  # the page reloads itself until the contract is there
    assert "À faire : signez le contrat de remboursement de l'avance" in _said(page, "#etat")
    link = page.locator("#contrat").get_by_role("link")
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    _fits(page)
    _accessible(page)

    # Another name than the mandataire's: refused, nothing signed.
    page.get_by_label("Votre prénom et votre nom").fill("Éloïse Dupont")
    page.get_by_label("J'ai lu le contrat et je m'engage à rembourser", exact=False).check()
    sign.click()
    name = page.get_by_label("Votre prénom et votre nom")
    name.wait_for()
    assert name.get_attribute("aria-invalid") == "true"
    assert _said(page, "#full_name-error") == _spaced(name_mismatch("Éloïse Martin"))
    assert advances(runtime, person.coop_id)[0].state == "awaiting_signature"
    _fits(page)

    name.fill("eloise martin")
    page.get_by_label("J'ai lu le contrat et je m'engage à rembourser", exact=False).check()
    page.get_by_role("button", name="Signer le contrat").click()
    assert "Le contrat est signé" in _said(page, ".flash")
    copy = page.locator("#documents").get_by_role("link", name="(signé)", exact=False)
    copy.wait_for(timeout=30_000)  # the signed copy, rendered while the page reloads
    assert "Contrat signé : votre AD fait le virement" in _said(page, "#etat")
    with page.expect_download() as download:
        copy.click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    _fits(page)
    [case] = advances(runtime, person.coop_id)
    assert case.state == "signed"
    assert case.data["signature"]["name"] == "eloise martin"
    assert case.data["signature"]["ip"] == "127.0.0.1"
