"""The emergency_advance steps run by the workers' runner, on both backends: the request
sent to the AD's president and treasurer (and to them only), the contract and its signed
copy read back from their PDFs (parties, the advance, the amount in figures and words,
the AD's delay, the signature's name, Paris time and IP), each stored once with its
hash; the mandataire's emails; a case lacking its data fails for good."""

from __future__ import annotations

import hashlib
import html
from typing import Any

import pytest
from sqlalchemy import update

from tests.factories import ADFactory, StaffFactory
from tests.helpers import case_of
from tests.transfer_helpers import (
    SUPPLIER_IBAN,
    advance_at,
    eligible,
    fire,
    officer,
    requested,
    signature,
)
from tests.workers.steps.test_invitation import Services
from tests.workers.steps.test_kyc_steps import case_row, emails, run
from tests.workers.steps.test_transfer_steps import (
    documents,
    page_count,
    squeezed,
    step_row,
    text_of,
    with_password,
)
from workers.steps.emergency_advance import NO_REASON, NO_REQUEST, NO_SIGNATURE
from workflows.engine.engine import Actor
from workflows.models import CaseEvent, StaffRole
from workflows.processes.banque_postale_transfer.attestation import funds_payload

STAFF = Actor("staff", 1, "Claire Agent")


@pytest.fixture
def services(settings, engine, smtp_server) -> Services:
    return Services(settings, engine, smtp_server.url)


@pytest.fixture
def president(ad):
    return StaffFactory(ad=ad, full_name="Robert Cherbetdjian", officer_role="president")


def assert_says(text: str, *expected: str) -> None:
    for sentence in expected:
        assert squeezed(sentence) in squeezed(text), sentence


def approved(engine, ad, mandataire, **request: Any):
    """An advance asked with ``request``'s changes, reviewed and approved by an officer."""
    case = requested(engine, mandataire, request)
    fire(engine, case.id, "to_review")
    return fire(engine, case.id, "approve", actor=officer(ad, name="Denis Olivier"))


# notify_reviewers ------------------------------------------------------------------------


def test_the_request_goes_to_the_ads_president_and_treasurer_only(
    services, engine, ad, president, smtp_server
):
    treasurer = StaffFactory(ad=ad, full_name="Denis Olivier", officer_role="treasurer")
    StaffFactory(ad=ad, full_name="Claire Agent")  # staff, not an officer
    StaffFactory(ad=ad, full_name="Ancien Trésorier", officer_role="treasurer", is_active=False)
    StaffFactory(
        ad=ad, full_name="Lecteur", officer_role="president", role=StaffRole.READONLY.value
    )
    StaffFactory(ad=ADFactory(code="AD83"), full_name="Autre Président", officer_role="president")
    mandataire = eligible(engine, ad)
    case = requested(engine, mandataire)
    step_id = run(services, case.id, "notify_reviewers", times=2)

    sent = [e for e in emails(engine, case.id) if e.kind == "review_request"]
    assert sorted(e.to_address for e in sent) == sorted([president.email, treasurer.email])
    assert len(smtp_server.messages) == 2  # run twice: each once
    assert case_row(engine, case.id).state == "under_review"  # to_review fired
    assert {e["to"] for e in step_row(engine, step_id).result["emails"]} == {
        president.email,
        treasurer.email,
    }
    email = next(e for e in sent if e.to_address == treasurer.email)
    assert email.subject.startswith("Demande d'avance d'urgence de ")
    assert mandataire.coop.name in email.subject
    body = " ".join(email.text_body.split())
    for expected in (
        "Bonjour Denis Olivier,",
        "Projet : Classe de découverte à Saint-Martin-Vésubie",
        "Date du projet : 15/03/2027",
        "Ce que l'avance paie : Acompte du séjour (hébergement et transport)",
        "Prestataire : PEP 06 Séjours (IBAN FR76 **** **** **** **** ***0 129)",
        "Montant demandé : 800,00 €",
        "Solde Banque Postale déclaré : 1 800,00 €",
        f"par {mandataire.full_name}",
    ):
        assert expected in body, expected
    link = f"{services.settings.base_url}/admin/dossiers/{case.id}"
    assert link in email.text_body and f'href="{link}"' in email.html_body
    assert SUPPLIER_IBAN[4:] not in "".join(email.text_body.split())


def test_an_ad_without_officers_gets_the_request_at_its_own_address(services, engine, ad):
    mandataire = eligible(engine, ad)
    case = requested(engine, mandataire)
    run(services, case.id, "notify_reviewers")

    [email] = emails(engine, case.id)
    assert email.to_address == ad.email and email.text_body.startswith("Bonjour,")
    assert case_row(engine, case.id).state == "under_review"


def test_a_request_missing_its_supplier_fails_for_good(services, engine, ad, president):
    mandataire = eligible(engine, ad)
    case = requested(engine, mandataire, {"supplier_iban": ""})
    step_id = run(services, case.id, "notify_reviewers")

    step = step_row(engine, step_id)
    assert step.status == "failed" and step.last_error == NO_REQUEST
    assert emails(engine, case.id) == [] and case_row(engine, case.id).state == "requested"


# The contract ----------------------------------------------------------------------------

CONTRACT_AMOUNTS = {
    "800,00 €": (80000, "800,00 € (huit cents euros)"),
    "a million": (100000000, "1 000 000,00 € (un million d'euros)"),
    "with cents": (
        123456,
        "1 234,56 € (mille deux cent trente-quatre euros et cinquante-six centimes)",
    ),
}


@pytest.mark.parametrize(("cents", "written"), CONTRACT_AMOUNTS.values(), ids=CONTRACT_AMOUNTS)
def test_the_contract_says_who_owes_what_and_until_when(
    services, engine, ad, factory_session, president, cents, written
):
    ad.advance_repayment_days = 60
    factory_session.commit()
    mandataire = eligible(engine, ad)
    case = approved(engine, ad, mandataire, amount_cents=cents)
    step_id = run(services, case.id, "render_advance_contract", times=2)

    [document] = documents(engine, case.id)
    assert document.kind == "advance_contract" and document.content.startswith(b"%PDF")
    assert document.sha256 == hashlib.sha256(document.content).hexdigest()
    after = case_row(engine, case.id)
    assert after.state == "awaiting_signature"  # contract_ready fired
    assert after.data["contract"] == {"document_id": document.id}
    assert step_row(engine, step_id).result == {"document_id": document.id}

    text, pages = text_of(document.content), page_count(document.content)
    coop = mandataire.coop
    assert_says(
        text,
        "Contrat d'engagement de remboursement de fonds avancés par l'OCCE",
        "Entre OCCE 06, association départementale",
        "représentée par son président, Robert Cherbetdjian",
        f"représentée par son mandataire, {mandataire.full_name}",
        coop.name,
        coop.affiliation_number,
        "Projet Classe de découverte à Saint-Martin-Vésubie",
        "Date du projet 15/03/2027",
        "Ce que l'avance paie Acompte du séjour (hébergement et transport)",
        "Prestataire PEP 06 Séjours",
        "IBAN du prestataire FR76 1010 7001 0112 3456 7890 129",
        f"Montant avancé {written}",
        f"l'intégralité de l'avance, soit {written}, au plus tard 60 jours après son versement",
        "solde de son compte La Banque Postale (solde déclaré : 1 800,00 €)",
        "Fait le 07/09/2026",
        "À signer électroniquement",
        f"Page 1 / {pages}",
        f"Page {pages} / {pages}",
        f"Code de vérification : {document.verification_code}",
    )
    assert "signé électroniquement le" not in text


def test_a_contract_without_its_request_fails_for_good(services, engine, ad):
    mandataire = eligible(engine, ad)
    case = approved(engine, ad, mandataire)
    with engine.transaction() as tx:
        locked = tx.lock(case.id)
        locked.data = {**locked.data, "request": {**locked.data["request"], "amount_cents": None}}
    step_id = run(services, case.id, "render_advance_contract")

    step = step_row(engine, step_id)
    assert step.status == "failed" and step.last_error == NO_REQUEST
    assert documents(engine, case.id) == []
    assert case_row(engine, case.id).state == "approved"


@pytest.mark.parametrize("kept", [True, False], ids=["kept in the case", "in the history"])
def test_the_signed_copy_prints_the_name_paris_time_and_ip(services, engine, ad, president, kept):
    """As the portal signs (the case keeps the signature, ``sign`` carries it), or as
    the history alone has it."""
    mandataire = eligible(engine, ad)
    case = advance_at(engine, ad, "awaiting_signature", mandataire)
    signed = {**signature(mandataire), "signed_at": "2026-12-01T08:30:00+00:00"}
    with engine.transaction() as tx:
        if kept:
            locked = tx.lock(case.id)
            locked.data = {**locked.data, "signature": signed}
        tx.fire(case.id, "sign", actor=Actor.mandataire(mandataire), payload={"signature": signed})
    run(services, case.id, "render_signed_contract", times=2)

    [document] = documents(engine, case.id)  # the contract's step did not run here
    assert document.kind == "advance_contract_signed"
    assert case_row(engine, case.id).data["signed_contract"] == {"document_id": document.id}
    text = text_of(document.content)
    assert_says(
        text,
        "Contrat d'engagement de remboursement de fonds avancés par l'OCCE",
        "Montant avancé 800,00 € (huit cents euros)",
        # 08:30 UTC in December is 09:30 in Paris.
        f"{mandataire.full_name} — Lu et approuvé, signé électroniquement le 01/12/2026 "
        "à 09:30 (heure de Paris) depuis l'adresse IP 192.0.2.10.",
    )
    assert "À signer électroniquement" not in text


def test_a_signed_copy_without_the_signature_fails_for_good(services, engine, ad):
    case = advance_at(engine, ad, "signed")
    with engine.transaction() as tx:  # the signature lost, in the data and the history
        locked = tx.lock(case.id)
        locked.data = {k: v for k, v in locked.data.items() if k != "signature"}
        tx.session.execute(
            update(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.trigger == "sign")
            .values(payload={})
        )
    step_id = run(services, case.id, "render_signed_contract")

    step = step_row(engine, step_id)
    assert step.status == "failed" and step.last_error == NO_SIGNATURE
    assert documents(engine, case.id) == []


def test_both_contracts_are_kept_apart(services, engine, ad):
    mandataire = eligible(engine, ad)
    case = advance_at(engine, ad, "approved", mandataire)
    run(services, case.id, "render_advance_contract")
    with engine.transaction() as tx:
        tx.fire(
            case.id,
            "sign",
            actor=Actor.mandataire(mandataire),
            payload={"signature": signature(mandataire)},
        )
    run(services, case.id, "render_signed_contract")

    kinds = sorted(d.kind for d in documents(engine, case.id))
    assert kinds == ["advance_contract", "advance_contract_signed"]
    data = case_row(engine, case.id).data
    assert data["contract"]["document_id"] != data["signed_contract"]["document_id"]


# Emails to the mandataire ----------------------------------------------------------------


@pytest.mark.parametrize("kept", [True, False], ids=["kept in the case", "in the history"])
def test_the_refusal_tells_the_officers_reason(services, engine, ad, smtp_server, kept):
    mandataire = with_password(engine, eligible(engine, ad))
    case = requested(engine, mandataire)
    fire(engine, case.id, "to_review")
    reason = "Le séjour n'est pas autorisé par l'inspection."
    reviewer = officer(ad)
    with engine.transaction() as tx:
        if kept:
            locked = tx.lock(case.id)
            locked.data = {**locked.data, "review": {"decision": "rejected", "reason": reason}}
        tx.fire(case.id, "reject", actor=reviewer, payload={"reason": reason})
    run(services, case.id, "notify_rejected", times=2)

    [email] = [e for e in emails(engine, case.id) if e.kind == "rejected"]
    assert email.to_address == mandataire.email and email.subject.endswith("refusée")
    assert reason in email.text_body and reason in html.unescape(email.html_body)
    assert "Classe de découverte à Saint-Martin-Vésubie" in email.text_body
    assert f"{services.settings.base_url}/mon-espace/avance" in email.text_body
    assert len(smtp_server.to(mandataire.email)) == 1


def test_a_refusal_without_its_reason_fails_for_good(services, engine, ad):
    mandataire = with_password(engine, eligible(engine, ad))
    case = advance_at(engine, ad, "rejected", mandataire)
    with engine.transaction() as tx:  # the reason lost, in the data and the history
        locked = tx.lock(case.id)
        locked.data = {k: v for k, v in locked.data.items() if k != "review"}
        tx.session.execute(
            update(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.trigger == "reject")
            .values(payload={})
        )
    step_id = run(services, case.id, "notify_rejected")
    assert step_row(engine, step_id).last_error == NO_REASON
    assert [e for e in emails(engine, case.id) if e.kind == "rejected"] == []


def test_a_repayment_recorded_by_staff_is_told(services, engine, ad):
    mandataire = with_password(engine, eligible(engine, ad))
    case = advance_at(engine, ad, "disbursed", mandataire)
    reviewer = officer(ad)
    with engine.transaction() as tx:
        locked = tx.lock(case.id)
        locked.data = {
            **locked.data,
            "repayment": {"repaid_on": "2026-11-02", "source": "staff", "reference": "VIR-1"},
        }
        tx.fire(case.id, "record_repayment", actor=reviewer)
    run(services, case.id, "notify_repaid", times=2)

    [email] = [e for e in emails(engine, case.id) if e.kind == "repaid"]
    body = " ".join(email.text_body.split())
    assert "L'avance d'urgence de 800,00 € versée à" in body
    assert "le 02/10/2026 pour « Classe de découverte à Saint-Martin-Vésubie »" in body
    assert "est remboursée depuis le 02/11/2026" in body
    assert "Votre AD a enregistré son remboursement (référence VIR-1)." in body


def test_the_transfers_funds_repay_the_advance_and_say_so(services, engine, ad):
    """The transfer's funds arrive: the advance is repaid by the effect, and its email
    says the Banque Postale balance paid it."""
    mandataire = with_password(engine, eligible(engine, ad))
    advance = advance_at(engine, ad, "disbursed", mandataire)
    transfer = case_of(engine, mandataire.coop_id, "banque_postale_transfer")
    run(services, transfer.id, "render_transfer_request")
    with engine.transaction() as tx:
        locked = tx.lock(transfer.id)
        payload = funds_payload(
            locked, ad, received_cents=180000, received_on=engine.clock.now().date(), source="staff"
        )
        tx.fire(transfer.id, "funds_received", actor=STAFF, payload=payload)
    assert case_row(engine, advance.id).state == "repaid"
    run(services, advance.id, "notify_repaid")

    [email] = [e for e in emails(engine, advance.id) if e.kind == "repaid"]
    body = " ".join(email.text_body.split())
    assert "par le solde de votre ancien compte La Banque Postale" in body
    assert "est remboursée depuis le 07/09/2026" in body


def test_the_reminder_asks_for_the_signature(services, engine, ad, smtp_server):
    mandataire = with_password(engine, eligible(engine, ad))
    case = advance_at(engine, ad, "awaiting_signature", mandataire)
    fire(engine, case.id, "remind")
    run(services, case.id, "send_reminder", times=2)

    [email] = [e for e in emails(engine, case.id) if e.kind == "reminder"]
    assert email.subject.startswith("Rappel\u00a0: signez le contrat de remboursement")
    body = " ".join(email.text_body.split())
    assert "L'avance d'urgence de 800,00 €" in body and "attend votre signature" in body
    assert f"{services.settings.base_url}/mon-espace/avance" in body
    assert len(smtp_server.to(mandataire.email)) == 1
