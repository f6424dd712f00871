"""« Avance d'urgence »: what an advance is for (seed 002) and why a coop may not ask;
the request (each field's French error next to it, the amount typed the French way or
not and bounded by the declared balance and the AD's cap, the quote checked by its
content, nothing stored on a refusal), taken once whatever the clicks or the tabs; each
state of the case after it: under review, refused with the officer's reason and the form
again, the contract to read and sign (the name typed matching, the consent ticked), the
signed copy, the disbursement, overdue, repaid; another coop sees none of it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.helpers import active_account, csrf_token
from tests.transfer_helpers import (
    SUPPLIER_IBAN,
    advance_at,
    affiliated,
    banking_done,
    eligible,
    fire,
)
from tests.web.conftest import form_value, text
from tests.web.portal import test_transfer_page as transfer_pages
from tests.web.portal.test_transfer_page import (
    error,
    html_of,
    log_in,
    plain,
    rendered,
    spaced,
)
from tests.workflows.processes.test_iban_rib_checks import wrong_rib_key
from web.portal import advance_form
from workflows.models import AD, Case, CaseEvent, Document
from workflows.processes.iban import rib_checks
from workflows.processes.iban.submission import RIB_EMPTY

PAGE = "/mon-espace/avance"
SIGN = "/mon-espace/avance/signer"
PROCESS = "emergency_advance"
PDF = b"%PDF-1.7\n" + b"1" * 500
GOOD = {
    "project": "Classe de découverte à Saint-Martin-Vésubie",
    "project_on": "2027-03-15",
    "pays_for": "Acompte du séjour (hébergement et transport)",
    "supplier": "PEP 06 Séjours",
    "supplier_iban": "fr76 1010 7001 0112 3456 7890 129",
    "amount": "800,00",
}
#: The transfer pages' fixture: the steps the cases queue are not run.
quiet = transfer_pages.quiet

CONTRACT_TITLE = "Contrat d'engagement de remboursement de l'avance"


# --- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
def mandataire(runtime, app, client, ad, quiet):
    """A mandataire whose coop may ask for an advance (banking done, the attestation
    sent declaring 1 800,00 €, the affiliation validated), logged in."""
    person = eligible(runtime.engine, ad)
    log_in(runtime, app, client, person)
    return person


def post(client, html: str | None = None, *, quote=(PDF, "devis.pdf", "application/pdf"), **fields):
    """The request form of ``html`` with ``fields`` and the quote (``None``: no file)."""
    html = html or html_of(client, PAGE)
    data: dict[str, Any] = {**GOOD, **fields, "csrf_token": csrf_token(html)}
    if 'name="submission"' in html:
        data["submission"] = form_value(html[html.index('id="demander"') :], "submission")
    if quote is not None:
        content, name, content_type = quote
        data["quote"] = (BytesIO(content), name, content_type)
    return client.post(PAGE, data=data, content_type="multipart/form-data")


def signed(client, html: str, **fields: str):
    form = html[html.index(f'action="{SIGN}') :]
    data = {
        "full_name": "Éloïse Martin",
        "consent": "y",
        "csrf_token": csrf_token(html),
        "submission": form_value(form, "submission"),
        **fields,
    }
    return client.post(SIGN, data={k: v for k, v in data.items() if v is not None})


def advances(runtime, coop_id: int) -> list[Case]:
    with runtime.db.read() as s:
        return list(
            s.scalars(
                select(Case)
                .where(Case.coop_id == coop_id, Case.process == PROCESS)
                .order_by(Case.id)
            )
        )


def quotes(runtime, coop_id: int) -> list[Document]:
    with runtime.db.read() as s:
        return list(
            s.scalars(
                select(Document).where(
                    Document.coop_id == coop_id, Document.kind == "advance_quote"
                )
            )
        )


def set_data(runtime, case_id: int, **values: Any) -> None:
    """What the back-office writes in the case with its transitions (review, disbursement,
    repayment)."""
    with runtime.engine.transaction() as tx:
        case = tx.lock(case_id)
        case.data = {**case.data, **values}


def at_signature(runtime, ad: AD, mandataire) -> Case:
    """Approved, its contract rendered (as ``render_advance_contract`` does)."""
    case = advance_at(runtime.engine, ad, "awaiting_signature", mandataire)
    rendered(runtime, case, "advance_contract", CONTRACT_TITLE)
    return case


def sign_events(runtime, case_id: int) -> list[CaseEvent]:
    with runtime.db.read() as s:
        return list(
            s.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.trigger == "sign")
            )
        )


# --- who may ask -----------------------------------------------------------------------


def test_a_coop_that_may_not_ask_reads_why_and_what_an_advance_is_for(
    runtime,
    app,
    client,
    ad,
    quiet,
):
    person = active_account(runtime.engine, ad)
    log_in(runtime, app, client, person)
    html = html_of(client, PAGE)
    words = plain(html)
    assert "D'abord, demandez un délai de paiement au prestataire." in words
    assert "ne concerne que des engagements pris pour un séjour ou un voyage autorisé" in words
    assert "Vous ne pouvez pas demander d'avance pour le moment" in words
    assert "Disponible quand votre identité sera vérifiée." in words
    assert "Disponible quand le compte bancaire de la coopérative sera certifié." in words
    assert "Envoyer la demande d'avance" not in words and 'type="file"' not in html
    refused = post(client, html)
    assert refused.status_code == 409
    assert "Disponible quand votre identité sera vérifiée." in text(refused)
    assert advances(runtime, person.coop_id) == [] and quotes(runtime, person.coop_id) == []


def test_the_affiliation_of_the_year_is_needed_too(runtime, app, client, ad, quiet):
    person = banking_done(runtime.engine, ad)
    log_in(runtime, app, client, person)
    words = plain(html_of(client, PAGE))
    assert "Vous ne pouvez pas demander d'avance pour le moment" in words
    assert "Disponible quand l'affiliation de cette année sera validée par votre AD." in words
    assert "identité" not in words.split("pour le moment")[1]
    assert "Envoyer la demande d'avance" not in words


def test_before_the_attestation_the_page_sends_to_it(runtime, app, client, ad, quiet):
    person = banking_done(runtime.engine, ad)
    affiliated(runtime.engine, person.coop_id)
    log_in(runtime, app, client, person)
    html = html_of(client, PAGE)
    assert "Remplissez d'abord l'attestation du solde Banque Postale" in plain(html)
    assert 'href="/mon-espace/solde-banque-postale"' in html
    assert "Envoyer la demande d'avance" not in plain(html)
    refused = post(client, html)  # a form posted all the same (an old page)
    assert refused.status_code == 422
    assert error(refused.get_data(as_text=True), "amount") == spaced(
        advance_form.NO_DECLARED_BALANCE
    )
    assert advances(runtime, person.coop_id) == []


# --- the request -----------------------------------------------------------------------


def test_the_request_form_says_its_limits(runtime, client, mandataire):
    html = html_of(client, PAGE)
    words = plain(html)
    assert "Demander une avance" in words
    assert (
        "L'avance ne peut pas dépasser le solde déclaré de votre compte La Banque Postale "
        "(1 800,00 €), ni le plafond fixé par votre AD (3 000,00 €)."
    ) in words
    for name, label in advance_form.FIELDS.items():
        assert f'<label for="{name}">{label}</label>' in html.replace("&#39;", "'"), name
    assert re.search(r'<input[^>]*id="project_on"[^>]*type="date"', html)
    assert re.search(
        r'<input[^>]*accept="application/pdf,image/png,image/jpeg"[^>]*id="quote"', html
    )
    assert 'enctype="multipart/form-data"' in html and "<script" not in html
    assert '<meta http-equiv="refresh"' not in html


@pytest.mark.parametrize(
    ("fields", "quote", "field", "message"),
    [
        ({"project": " "}, None, "project", advance_form.PROJECT_REQUIRED),
        ({"project_on": ""}, None, "project_on", advance_form.DATE_REQUIRED),
        ({"project_on": "2026-09-06"}, None, "project_on", advance_form.DATE_PAST),
        ({"project_on": "le 3 mai"}, None, "project_on", "Date invalide"),
        ({"project_on": "2029-01-01"}, None, "project_on", advance_form.DATE_TOO_FAR),
        ({"pays_for": ""}, None, "pays_for", advance_form.PAYS_FOR_REQUIRED),
        ({"supplier": ""}, None, "supplier", advance_form.SUPPLIER_REQUIRED),
        ({"supplier_iban": ""}, None, "supplier_iban", rib_checks.IBAN_REQUIRED),
        (
            {"supplier_iban": wrong_rib_key(SUPPLIER_IBAN)},
            None,
            "supplier_iban",
            rib_checks.IBAN_BAD_RIB_KEY,
        ),
        ({"supplier_iban": "FR7610107001011234567890128"}, None, "supplier_iban", "IBAN invalide"),
        ({"amount": ""}, None, "amount", advance_form.AMOUNT_REQUIRED),
        ({"amount": "-800"}, None, "amount", "Le montant ne peut pas être négatif."),
        ({"amount": "0,00"}, None, "amount", "Le montant doit être supérieur à 0,00 €."),
        ({"amount": "huit cents"}, None, "amount", "Indiquez un montant en euros"),
        ({"amount": "99999999"}, None, "amount", "Indiquez un montant en euros"),
        ({"amount": "1 800,01"}, None, "amount", advance_form.above_balance(180000)),
        ({}, "none", "quote", advance_form.QUOTE_REQUIRED),
        (
            {},
            (b"Devis : 800 euros", "devis.pdf", "application/pdf"),
            "quote",
            "Ce fichier n'est ni",
        ),
        ({}, (b"", "devis.pdf", "application/pdf"), "quote", RIB_EMPTY),
    ],
    ids=[
        "project-missing",
        "date-missing",
        "date-past",
        "date-words",
        "date-too-far",
        "pays-for-missing",
        "supplier-missing",
        "iban-missing",
        "iban-rib-key",
        "iban-check-digits",
        "amount-missing",
        "amount-negative",
        "amount-zero",
        "amount-words",
        "amount-absurd",
        "amount-above-the-balance",
        "quote-missing",
        "quote-named-pdf-but-text",
        "quote-empty",
    ],
)
def test_a_refusal_is_said_next_to_its_field_and_nothing_is_stored(
    runtime, client, mandataire, fields, quote, field, message
):
    kwargs = {} if quote is None else {"quote": None if quote == "none" else quote}
    refused = post(client, **fields, **kwargs)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    said = error(html, field)
    assert said is not None and spaced(message) in said, (said, message)
    assert "Rien n'a été enregistré" in plain(html) and f'href="#{field}"' in html
    if field not in ("quote",) and (fields.get(field) or "").strip():
        assert f'value="{fields[field]}"' in html  # what was typed, to correct
    assert advances(runtime, mandataire.coop_id) == []
    assert quotes(runtime, mandataire.coop_id) == []


def test_a_file_past_the_sites_limit_is_refused_next_to_the_file(runtime, client, mandataire):
    huge = (b"%PDF-" + b"0" * (7 * 1024 * 1024), "devis.pdf", "application/pdf")
    refused = post(client, quote=huge)
    assert refused.status_code == 413
    assert error(refused.get_data(as_text=True), "quote") == spaced(advance_form.QUOTE_TOO_LARGE)
    assert advances(runtime, mandataire.coop_id) == []


def test_the_lower_limit_is_the_one_said(runtime, app, client, ad, quiet):
    """Declared 5 000,00 €, the AD's cap 3 000,00 €: above the cap is refused by it."""
    person = eligible(runtime.engine, ad, declared_cents=500000)
    log_in(runtime, app, client, person)
    refused = post(client, amount="3 000,01")
    assert refused.status_code == 422
    assert error(refused.get_data(as_text=True), "amount") == spaced(advance_form.above_cap(300000))
    assert "(3 000,00 €)" in spaced(advance_form.above_cap(300000))
    assert post(client, amount="3 000,00").status_code == 302
    [case] = advances(runtime, person.coop_id)
    assert case.data["request"]["amount_cents"] == 300000


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("1 800,00", 180000), ("1800.5", 180050), ("1 750", 175000), ("1 800,00 €", 180000)],
    ids=["comma-and-space", "dot", "whole-euros", "with-the-sign"],
)
def test_the_amount_is_read_in_cents_however_it_is_typed(
    runtime,
    app,
    client,
    ad,
    quiet,
    typed,
    cents,
):
    person = eligible(runtime.engine, ad, declared_cents=200000)
    log_in(runtime, app, client, person)
    assert post(client, amount=typed).status_code == 302
    [case] = advances(runtime, person.coop_id)
    assert case.data["request"]["amount_cents"] == cents


def test_a_request_is_taken_once_with_its_quote(runtime, client, mandataire):
    html = html_of(client, PAGE)
    first = post(client, html, quote=(PDF, "devis.pdf", "application/pdf"))
    second = post(client, html, quote=(PDF, "devis.pdf", "application/pdf"))  # double click
    assert first.status_code == 302 and first.headers["Location"] == PAGE
    assert second.status_code == 303 and second.headers["Location"] == PAGE
    [case] = advances(runtime, mandataire.coop_id)
    [quote] = quotes(runtime, mandataire.coop_id)
    assert case.state == "requested"
    request = case.data["request"]
    assert request == {
        "project": GOOD["project"],
        "project_on": "2027-03-15",
        "pays_for": GOOD["pays_for"],
        "supplier": GOOD["supplier"],
        "supplier_iban": SUPPLIER_IBAN,  # compact, upper case
        "amount_cents": 80000,
        "declared_cents": 180000,
        "quote_document_id": quote.id,
        "requested_by": "Éloïse Martin",
        "requested_at": request["requested_at"],
    }
    assert (quote.case_id, quote.content_type, quote.content) == (case.id, "application/pdf", PDF)
    with runtime.db.read() as s:
        [event] = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.trigger == "request")
        ).all()
    assert event.actor.startswith("mandataire")

    html = html_of(client, PAGE)
    words = plain(html)
    assert "Votre demande d'avance est envoyée" in words
    assert "Demande envoyée : votre AD va l'examiner" in words
    assert "Votre demande est en cours d'examen" in words
    assert f'<meta http-equiv="refresh" content="3; url={PAGE}">' in html
    assert "Montant demandé 800,00 €" in words
    assert "IBAN du prestataire FR76 1010 7001 0112 3456 7890 129" in words
    assert "Classe de découverte à Saint-Martin-Vésubie, le 15/03/2027" in words
    assert f'href="/mon-espace/documents/{quote.id}"' in html
    assert "Envoyer la demande d'avance" not in words
    assert client.get(f"/mon-espace/documents/{quote.id}").data == PDF


def test_a_second_tab_cannot_ask_again(runtime, client, mandataire):
    first_tab, second_tab = html_of(client, PAGE), html_of(client, PAGE)
    assert post(client, first_tab).status_code == 302
    again = post(client, second_tab, amount="500,00")
    assert again.status_code == 409
    assert "Une demande d'avance de votre coopérative est déjà en cours" in text(again)
    assert len(advances(runtime, mandataire.coop_id)) == 1
    assert len(quotes(runtime, mandataire.coop_id)) == 1


# --- after the request -----------------------------------------------------------------


def test_under_review_the_request_is_summarised(runtime, client, ad, mandataire):
    advance_at(runtime.engine, ad, "under_review", mandataire)
    html = html_of(client, PAGE)
    words = plain(html)
    assert "Demande en cours d'examen par votre AD" in words
    assert "Montant demandé 800,00 €" in words and "PEP 06 Séjours" in words
    assert '<meta http-equiv="refresh"' not in html
    assert "Envoyer la demande d'avance" not in words


def test_refused_the_reason_is_read_and_the_form_offered_again(runtime, client, ad, mandataire):
    case = advance_at(runtime.engine, ad, "rejected", mandataire)
    reason = "Ce séjour n'est pas autorisé par l'inspection : demandez un délai au prestataire."
    set_data(
        runtime, case.id, review={"decision": "rejected", "reason": reason, "by": "Denis Olivier"}
    )
    html = html_of(client, PAGE)
    words = plain(html)
    assert "Refusée : lisez le motif de votre AD" in words
    assert spaced(f"Son motif : « {reason} »") in words
    assert "Faire une nouvelle demande" in words
    assert post(client, html, amount="400,00").status_code == 302
    first, second = advances(runtime, mandataire.coop_id)
    assert (first.state, second.state) == ("rejected", "requested")


def test_approved_the_contract_is_awaited(runtime, client, ad, mandataire):
    advance_at(runtime.engine, ad, "approved", mandataire)
    html = html_of(client, PAGE)
    assert "contrat d'engagement de remboursement est en préparation" in plain(html)
    assert f'<meta http-equiv="refresh" content="3; url={PAGE}">' in html


def test_the_contract_is_read_then_signed_once(runtime, client, clock, ad, mandataire):
    case = at_signature(runtime, ad, mandataire)
    html = html_of(client, PAGE)
    words = plain(html)
    assert "À faire : signez le contrat de remboursement de l'avance" in words
    with runtime.db.read() as s:
        contract_id = s.scalars(
            select(Document.id).where(Document.kind == "advance_contract")
        ).one()
    assert f'href="/mon-espace/documents/{contract_id}"' in html and CONTRACT_TITLE in words
    assert (
        "J'ai lu le contrat et je m'engage à rembourser l'avance de 800,00 € à l'OCCE 06" in words
    )
    assert '<label for="full_name">Votre prénom et votre nom</label>' in html
    assert '<meta http-equiv="refresh"' not in html

    first = signed(client, html, full_name="  éloïse   MARTIN ")
    second = signed(client, html, full_name="  éloïse   MARTIN ")  # a double click
    assert (first.status_code, second.status_code) == (302, 303)
    after = advances(runtime, mandataire.coop_id)[0]
    assert after.state == "signed"
    signature = after.data["signature"]
    assert signature == {
        "name": "éloïse MARTIN",
        "consent": True,
        "signed_at": signature["signed_at"],
        "ip": "127.0.0.1",
    }
    at = datetime.fromisoformat(signature["signed_at"])
    assert at.utcoffset() == timedelta(0) and clock.now() - at < timedelta(seconds=10)
    [event] = sign_events(runtime, case.id)
    assert event.payload == {"signature": signature}

    # The signed copy is prepared: the page reloads itself until it is there.
    html = html_of(client, PAGE)
    words = plain(html)
    assert "Contrat signé : votre AD fait le virement" in words
    assert "Vous avez signé le contrat le 07/09/2026." in words
    assert "Votre exemplaire signé du contrat est en préparation" in words
    assert f'<meta http-equiv="refresh" content="3; url={PAGE}">' in html
    copy_id = rendered(runtime, after, "advance_contract_signed", "Contrat signé")
    html = html_of(client, PAGE)
    assert f'href="/mon-espace/documents/{copy_id}"' in html
    assert '<meta http-equiv="refresh"' not in html


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"full_name": "Éloïse Dupont"}, "full_name", advance_form.name_mismatch("Éloïse Martin")),
        ({"full_name": "Éloïse"}, "full_name", advance_form.name_mismatch("Éloïse Martin")),
        ({"full_name": " "}, "full_name", advance_form.SIGNATURE_NAME_REQUIRED),
        ({"consent": None}, "consent", advance_form.CONSENT_REQUIRED),
    ],
    ids=["another-name", "first-name-only", "no-name", "no-consent"],
)
def test_a_signature_refused_says_why_and_nothing_is_signed(
    runtime, client, ad, mandataire, fields, field, message
):
    case = at_signature(runtime, ad, mandataire)
    refused = signed(client, html_of(client, PAGE), **fields)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert error(html, field) == spaced(message)
    assert "Rien n'a été enregistré" in plain(html)
    after = advances(runtime, mandataire.coop_id)[0]
    assert (after.state, after.version) == ("awaiting_signature", case.version)
    assert "signature" not in after.data and sign_events(runtime, case.id) == []


def test_the_name_may_be_typed_surname_first(runtime, client, ad, mandataire):
    at_signature(runtime, ad, mandataire)
    assert signed(client, html_of(client, PAGE), full_name="MARTIN Eloise").status_code == 302
    assert advances(runtime, mandataire.coop_id)[0].data["signature"]["name"] == "MARTIN Eloise"


def test_no_signature_before_the_contract_is_there(runtime, client, ad, mandataire):
    advance_at(runtime.engine, ad, "awaiting_signature", mandataire)  # its PDF not rendered
    html = html_of(client, PAGE)
    assert "Le contrat est en préparation" in plain(html)
    assert f'action="{SIGN}' not in html


def test_disbursed_overdue_then_repaid(runtime, client, ad, mandataire):
    case = advance_at(runtime.engine, ad, "disbursed", mandataire)
    set_data(
        runtime,
        case.id,
        disbursement={"disbursed_on": "2026-10-02", "reference": "AV-2026-17", "by": "Denis"},
    )
    words = plain(html_of(client, PAGE))
    assert "Avance versée : elle sera remboursée par le solde Banque Postale" in words
    assert "versée sur le compte de la coopérative le 02/10/2026 (référence AV-2026-17)" in words

    fire(runtime.engine, case.id, "fall_overdue")
    words = plain(html_of(client, PAGE))
    assert "En retard : l'avance n'est pas encore remboursée" in words
    assert "n'est pas encore remboursée dans le délai de votre AD" in words

    set_data(runtime, case.id, repayment={"repaid_on": "2026-11-02", "source": "transfer"})
    fire(runtime.engine, case.id, "repay")
    words = plain(html_of(client, PAGE))
    assert "Terminé : l'avance est remboursée" in words
    assert (
        "L'avance est remboursée depuis le 02/11/2026, par le solde Banque Postale reçu." in words
    )


def test_another_coops_mandataire_sees_nothing_of_it(runtime, app, client, ad, mandataire):
    assert post(client).status_code == 302
    [quote] = quotes(runtime, mandataire.coop_id)
    other = eligible(runtime.engine, ad)
    theirs = app.test_client()
    log_in(runtime, app, theirs, other)
    html = html_of(theirs, PAGE)
    assert "Demander une avance" in plain(html) and "PEP 06 Séjours" not in html
    assert theirs.get(f"/mon-espace/documents/{quote.id}").status_code == 404
    data = {"full_name": "Éloïse Martin", "consent": "y", "csrf_token": csrf_token(html)}
    refused = theirs.post(SIGN, data=data)  # nothing of theirs to sign
    assert refused.status_code == 409
    assert "Il n'y a pas de contrat à signer pour le moment" in text(refused)
    assert advances(runtime, mandataire.coop_id)[0].state == "requested"
    with runtime.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.process == PROCESS)) == 1
