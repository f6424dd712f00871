"""The banque_postale_transfer steps run by the workers' runner, on both backends: the
letter to La Banque Postale read back from its PDF (letterhead, both addresses, both
accounts, the attestation, the balance in figures and in words, page numbers), stored
once with its hash; a case that lacks its data fails for good with its French message;
the mandataire's emails read back."""

from __future__ import annotations

import hashlib
import io
from datetime import date
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from tests.factories import StaffFactory
from tests.helpers import case_of
from tests.transfer_helpers import (
    NEW_IBAN,
    attested,
    banking_done,
    fire,
)
from tests.workers.steps.test_invitation import Services
from tests.workers.steps.test_kyc_steps import case_row, emails, run
from workers.steps.banque_postale_transfer import NO_ACCOUNT, NO_ATTESTATION, NO_FUNDS
from workflows.engine.engine import Actor
from workflows.models import BankAccount, Case, CaseEvent, Document, Mandataire, Step
from workflows.processes.banque_postale_transfer.attestation import BANK_ADDRESS, funds_payload
from workflows.processes.banque_postale_transfer.definition import STATEMENTS

STAFF = Actor("staff", 1, "Claire Agent")
#: When the attestation was sent (UTC): 18:45 in Paris (summer time).
ATTESTED_AT = "2026-09-20T16:45:00+00:00"


@pytest.fixture
def services(settings, engine, smtp_server) -> Services:
    return Services(settings, engine, smtp_server.url)


@pytest.fixture
def letterhead(ad, factory_session):
    """The AD with its address and phone, and its president (who signs for OCCE)."""
    ad.address = "Le Nouvel Horizon, 8 avenue des Arènes, 06000 Nice"
    ad.phone = "04 93 53 71 86"
    factory_session.commit()
    StaffFactory(ad=ad, full_name="Robert Cherbetdjian", officer_role="president")
    return ad


def text_of(pdf: bytes) -> str:
    """The PDF's text as a reader reads it: every run of spaces (line ends, the French
    non-breaking ones) one space."""
    return " ".join(
        " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split()
    )


def squeezed(text: str) -> str:
    """``text`` without any space: pypdf reads a kerned pair as two words (« T ous »)."""
    return "".join(text.split())


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def documents(engine, case_id: int) -> list[Document]:
    with engine.db.read() as s:
        found = list(s.scalars(select(Document).where(Document.case_id == case_id)))
        for document in found:
            s.expunge(document)
        return found


def step_row(engine, step_id: int) -> Step:
    with engine.db.read() as s:
        step = s.get(Step, step_id)
        assert step is not None
        s.expunge(step)
        return step


def with_password(engine, mandataire: Mandataire) -> Mandataire:
    """The mandataire has chosen a password (the one the coop's emails go to):
    ``tests.helpers.active_account`` fires the invitation's triggers only."""
    with engine.transaction() as tx:
        tx.session.execute(
            update(Mandataire)
            .where(Mandataire.id == mandataire.id)
            .values(password_hash="argon2-hash-of-the-tests", password_set_at=tx.now)
        )
    return mandataire


def attested_case(engine, ad, declared_cents: int = 180000) -> tuple[Any, Case]:
    """The attestation sent at :data:`ATTESTED_AT`; the letter's step queued."""
    mandataire, case = attested(engine, ad, declared_cents)
    with engine.transaction() as tx:
        locked = tx.lock(case.id)
        locked.data = {
            **locked.data,
            "attestation": {**locked.data["attestation"], "attested_at": ATTESTED_AT},
        }
    return mandataire, case


# render_transfer_request -----------------------------------------------------------------

AMOUNTS = {
    "1 800,00 €": (180000, "1 800,00 € (mille huit cents euros)"),
    "a million": (100000000, "1 000 000,00 € (un million d'euros)"),
    "with cents": (13699, "136,99 € (cent trente-six euros et quatre-vingt-dix-neuf centimes)"),
}


@pytest.mark.parametrize(("declared", "written"), AMOUNTS.values(), ids=AMOUNTS.keys())
def test_the_letter_says_what_the_bank_needs(services, engine, letterhead, declared, written):
    mandataire, case = attested_case(engine, letterhead, declared)
    step_id = run(services, case.id, "render_transfer_request", times=2)

    [document] = documents(engine, case.id)
    assert document.kind == "transfer_request" and document.content.startswith(b"%PDF")
    assert document.sha256 == hashlib.sha256(document.content).hexdigest()
    assert document.size == len(document.content)
    assert document.filename.endswith(".pdf") and "banque-postale" in document.filename
    after = case_row(engine, case.id)
    assert after.state == "ready_to_send"  # letter_ready fired
    assert after.data["letter"] == {"document_id": document.id}
    assert step_row(engine, step_id).result == {"document_id": document.id}

    text, pages = text_of(document.content), page_count(document.content)
    coop = mandataire.coop
    for expected in (
        # The AD's letterhead.
        "OCCE 06",
        "Le Nouvel Horizon, 8 avenue des Arènes, 06000 Nice",
        "Tél. 04 93 53 71 86",
        "ad06@occe.coop",
        # La Banque Postale's address, the coop's.
        *BANK_ADDRESS,
        coop.name,
        coop.affiliation_number,
        coop.school_name,
        "12 rue de la République, 06000 Nice",
        # The old account, the new one whole, its BIC and holder.
        "FR51 2004 1010 0501 2345 6A02 084",
        "FR76 3000 6000 0112 3456 7890 189",
        "AGRIFRPP",
        f"OCCE 06 {coop.name}",
        # The attestation: its three statements, who, when (Paris).
        *STATEMENTS.values(),
        f"Le 20/09/2026 à 18:45 (heure de Paris), {mandataire.full_name}, mandataire",
        # The balance, the request, the date, the signatures, the pages.
        f"Solde déclaré {written}",
        f"virer l'intégralité de son solde, déclaré à {written}",
        "clôturer le compte FR51 2004 1010 0501 2345 6A02 084",
        "Le 07/09/2026",
        "Le mandataire",
        "le président de l'association départementale Robert Cherbetdjian",
        f"Page 1 / {pages}",
        f"Page {pages} / {pages}",
        f"Code de vérification : {document.verification_code}",
    ):
        assert squeezed(expected) in squeezed(text), expected
    assert document.verification_code and len(document.verification_code) == 14


def test_a_letter_without_the_whole_attestation_fails_for_good(services, engine, ad):
    _, case = attested(engine, ad)
    with engine.transaction() as tx:  # a statement lost since
        locked = tx.lock(case.id)
        locked.data = {
            **locked.data,
            "attestation": {**locked.data["attestation"], "no_operation": False},
        }
    step_id = run(services, case.id, "render_transfer_request")

    step = step_row(engine, step_id)
    assert step.status == "failed" and step.last_error == NO_ATTESTATION
    after = case_row(engine, case.id)
    assert after.state == "attested" and after.stuck_reason == "step_failed"
    assert documents(engine, case.id) == [] and "letter" not in after.data


def test_a_letter_without_a_certified_account_fails_for_good(services, engine, ad):
    mandataire, case = attested(engine, ad)
    with engine.transaction() as tx:
        tx.session.execute(
            update(BankAccount)
            .where(BankAccount.coop_id == mandataire.coop_id)
            .values(status="replaced")
        )
    step_id = run(services, case.id, "render_transfer_request")

    step = step_row(engine, step_id)
    assert step.status == "failed" and step.last_error == NO_ACCOUNT
    assert documents(engine, case.id) == []


# Emails ----------------------------------------------------------------------------------


def test_the_reminder_warns_the_balance_waits_on_the_attestation(services, engine, ad, smtp_server):
    mandataire = with_password(engine, banking_done(engine, ad))
    case = case_of(engine, mandataire.coop_id, "banque_postale_transfer")
    assert case.state == "awaiting_attestation"
    fire(engine, case.id, "remind")
    run(services, case.id, "send_reminder", times=2)

    [email] = [e for e in emails(engine, case.id) if e.kind == "reminder"]
    assert email.to_address == mandataire.email
    assert email.subject.startswith("Rappel\u00a0: remplissez l'attestation")
    assert mandataire.coop.name in email.subject
    body = " ".join(email.text_body.split())
    assert (
        "Répondez impérativement à ce formulaire, sinon… vous attendrez en vain le solde." in body
    )
    for statement in STATEMENTS.values():
        assert f"- {statement}" in body
    link = f"{services.settings.base_url}/mon-espace/solde-banque-postale"
    assert link in email.text_body and f'href="{link}"' in email.html_body
    assert len(smtp_server.to(mandataire.email)) == 1


def _funds_received(engine, ad, case_id: int, received_cents: int, *, keep: bool) -> None:
    """Staff record the funds as the back-office does: the case keeps them (``keep``)
    and ``funds_received`` carries them."""
    with engine.transaction() as tx:
        case = tx.lock(case_id)
        payload = funds_payload(
            case, ad, received_cents=received_cents, received_on=date(2026, 10, 12), source="staff"
        )
        if keep:
            case.data = {
                **case.data,
                "funds": {
                    "received_cents": received_cents,
                    "received_on": "2026-10-12",
                    "source": "staff",
                    "recorded_by": STAFF.name,
                },
            }
        tx.fire(case_id, "funds_received", actor=STAFF, payload=payload)


@pytest.mark.parametrize("keep", [True, False], ids=["kept in the case", "in the history"])
def test_the_funds_received_email_says_how_much_and_when(services, engine, ad, smtp_server, keep):
    mandataire, case = attested(engine, ad)
    with_password(engine, mandataire)
    run(services, case.id, "render_transfer_request")
    _funds_received(engine, ad, case.id, 179950, keep=keep)
    run(services, case.id, "notify_funds_received", times=2)

    [email] = [e for e in emails(engine, case.id) if e.kind == "funds_received"]
    assert email.to_address == mandataire.email and "Solde Banque Postale" in email.subject
    body = " ".join(email.text_body.split())
    assert "1 799,50 € reçus le 12/10/2026" in body
    assert "Vous aviez déclaré un solde de 1 800,00 €" in body
    assert NEW_IBAN[4:] not in "".join(email.text_body.split())
    assert len(smtp_server.to(mandataire.email)) == 1


def test_the_funds_email_does_not_mention_a_balance_paid_as_declared(services, engine, ad):
    mandataire, case = attested(engine, ad)
    with_password(engine, mandataire)
    run(services, case.id, "render_transfer_request")
    _funds_received(engine, ad, case.id, 180000, keep=True)
    run(services, case.id, "notify_funds_received")

    [email] = [e for e in emails(engine, case.id) if e.kind == "funds_received"]
    body = " ".join(email.text_body.split())
    assert "1 800,00 € reçus le 12/10/2026" in body and "déclaré" not in body


def test_a_funds_email_without_the_funds_fails_for_good(services, engine, ad):
    mandataire, case = attested(engine, ad)
    with_password(engine, mandataire)
    run(services, case.id, "render_transfer_request")
    _funds_received(engine, ad, case.id, 180000, keep=False)
    with engine.transaction() as tx:  # what the history had, lost
        tx.session.execute(
            update(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.trigger == "funds_received")
            .values(payload={})
        )
    step_id = run(services, case.id, "notify_funds_received")

    assert step_row(engine, step_id).last_error == NO_FUNDS
    assert [e for e in emails(engine, case.id) if e.kind == "funds_received"] == []
