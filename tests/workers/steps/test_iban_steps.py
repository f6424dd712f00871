"""The iban steps called directly, against the simulated Swan, on both backends: the
checks' verdict on a RIB handed in through the portal's own function, the certification
once however often it runs, and emails that never carry a full IBAN."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.workers.steps.test_kyc_steps import (
    Services,
    activated,
    case_row,
    count,
    emails,
    pending,
    run,
)
from workers.providers.swan.sandbox import SandboxSwan
from workers.runner import run_step
from workflows.engine.engine import Actor
from workflows.models import BankAccount, Case, ProviderResource, Task
from workflows.models.banking import SandboxObject
from workflows.processes.iban.rib_checks import IBAN_BAD_RIB_KEY, RIB_TOO_OLD, RibInput
from workflows.processes.iban.submission import check_rib_file, submit_rib

SYSTEM = Actor.system("test")
PDF = b"%PDF-1.7\n" + b"0" * 200
#: Crédit Agricole (30006, AGRIFRPP): mod-97 and RIB key good.
GOOD_IBAN = "FR7630006000011234567890189"
#: The same account with RIB key 90: mod-97 recomputed (good), the RIB key wrong.
BAD_KEY_IBAN = "FR4930006000011234567890190"
OTHER_IBAN = "FR7610107001011234567890129"
#: The tests' day in Paris (conftest's T0).
TODAY = date(2026, 9, 7)


@pytest.fixture
def swan(engine, settings) -> SandboxSwan:
    return SandboxSwan(engine.db, engine.clock, base_url=settings.base_url)


@pytest.fixture
def services(settings, engine, smtp_server, swan) -> Services:
    return Services(settings, engine, smtp_server.url, swan)


def coop_cases(services, engine, ad) -> tuple[int, int, object]:
    """An activated coop whose membership Swan has (so its account is known): its
    iban case, its kyc case, its mandataire."""
    kyc_id, person = activated(engine, ad)
    run(services, kyc_id, "request_identification")
    with engine.db.read() as s:
        iban_id = s.scalars(
            select(Case.id).where(Case.coop_id == person.coop_id, Case.process == "iban")
        ).one()
    return iban_id, kyc_id, person


def hand_in(engine, case_id: int, person, key: str, **typed) -> int:
    """A RIB handed in as the portal does: the file, the fields, ``submit_rib``."""
    fields = {
        "iban": "fr76 3000 6000 0112 3456 7890 189",
        "bic": "agrifrpp",
        "holder": "OCCE 06 Coop Jaurès",
        "rib_date": TODAY - timedelta(days=30),
        **typed,
    }
    with engine.transaction() as tx:
        account = submit_rib(
            tx,
            tx.lock(case_id),
            RibInput(**fields),
            check_rib_file(PDF),
            by=Actor.mandataire(person),
            key=key,
        )
        return account.id


def bank_account(engine, account_id: int) -> BankAccount:
    with engine.db.read() as s:
        account = s.get(BankAccount, account_id)
        assert account is not None
        s.expunge(account)
        return account


def assert_no_full_iban(engine, case_id: int, *ibans: str) -> None:
    for email in emails(engine, case_id):
        for iban in ibans:
            for body in (email.subject, email.text_body, email.html_body):
                assert iban[4:] not in "".join(body.split()), email.kind


# check_rib -------------------------------------------------------------------------------


CHECKS = {
    "good": ({}, "verified", "accept"),
    "bad RIB key": ({"iban": BAD_KEY_IBAN}, "rejected", "reject"),
    "older than a year": ({"rib_date": TODAY - timedelta(days=366)}, "rejected", "reject"),
    "holder unknown": ({"holder": "M. et Mme Dupont"}, "needs_review", "to_review"),
}


@pytest.mark.parametrize(("typed", "state", "trigger"), CHECKS.values(), ids=CHECKS.keys())
def test_the_checks_decide_where_the_rib_goes(services, engine, ad, typed, state, trigger):
    case_id, _, person = coop_cases(services, engine, ad)
    account_id = hand_in(engine, case_id, person, "jeton", **typed)
    run(services, case_id, "check_rib", times=2)

    case = case_row(engine, case_id)
    account = bank_account(engine, account_id)
    assert case.state == state and account.status == state
    [event] = [e for e in case_events(engine, case_id) if e.trigger == trigger]
    assert event.payload["bank_account_id"] == account_id
    if state == "rejected":
        assert account.errors and event.payload["errors"] == account.errors
    if state == "needs_review":
        [reason] = account.review["reasons"]
        assert reason.startswith("Titulaire « M. et Mme Dupont » non reconnu")
        with engine.db.read() as s:
            task = s.scalars(select(Task).where(Task.case_id == case_id)).one()
        assert task.kind == "rib_review" and task.note == reason


def case_events(engine, case_id: int) -> list:
    from workflows.models import CaseEvent

    with engine.db.read() as s:
        found = list(s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)))
        for event in found:
            s.expunge(event)
        return found


def test_a_bad_rib_key_is_told_next_to_its_field_without_the_iban(
    services, engine, ad, smtp_server
):
    case_id, _, person = coop_cases(services, engine, ad)
    account_id = hand_in(
        engine, case_id, person, "jeton", iban=BAD_KEY_IBAN, rib_date=TODAY - timedelta(days=400)
    )
    run(services, case_id, "check_rib")
    assert bank_account(engine, account_id).errors == {
        "iban": IBAN_BAD_RIB_KEY,
        "rib_date": RIB_TOO_OLD,
    }
    run(services, case_id, "notify_rejected", times=2)
    [email] = [e for e in emails(engine, case_id) if e.kind == "rejected"]
    body = email.text_body.replace("\u00a0", " ")
    assert f"- IBAN : {IBAN_BAD_RIB_KEY}" in body and f"- Date du RIB : {RIB_TOO_OLD}" in body
    assert "<strong>IBAN</strong>" in email.html_body
    assert len(smtp_server.to(person.email)) == 2  # the kyc instructions, this one
    assert_no_full_iban(engine, case_id, BAD_KEY_IBAN)


def test_a_rib_refused_by_staff_tells_their_reasons_and_message(services, engine, ad):
    """The review's refusal (as the back-office fires it): each reason by its field,
    and the message staff wrote for the mandataire, not their comment."""
    case_id, _, person = coop_cases(services, engine, ad)
    account_id = hand_in(engine, case_id, person, "jeton", holder="M. et Mme Dupont")
    run(services, case_id, "check_rib")
    with engine.transaction() as tx:
        tx.fire(
            case_id,
            "refuse",
            actor=Actor("staff", 1, "Claire Agent"),
            payload={
                "bank_account_id": account_id,
                "errors": {"document": "Le RIB joint est illisible.", "other": "Pas de tampon."},
                "message": "Demandez un RIB à votre agence.",
            },
            comment="Motifs : RIB illisible ; Pas de tampon.",
        )
    run(services, case_id, "notify_rejected")
    [email] = [e for e in emails(engine, case_id) if e.kind == "rejected"]
    body = email.text_body.replace("\u00a0", " ")
    assert "- RIB (fichier) : Le RIB joint est illisible." in body
    assert "- Autre motif : Pas de tampon." in body
    assert "Demandez un RIB à votre agence." in body and "Motifs :" not in body


# certify_account -------------------------------------------------------------------------


def test_a_good_rib_is_certified_once_and_told_masked(services, engine, ad, smtp_server):
    case_id, _, person = coop_cases(services, engine, ad)
    account_id = hand_in(engine, case_id, person, "jeton")
    run(services, case_id, "check_rib")
    run(services, case_id, "certify_account", times=2)

    assert count(engine, SandboxObject, SandboxObject.kind == "beneficiary") == 1
    assert count(engine, ProviderResource, ProviderResource.kind == "beneficiary") == 1
    account = bank_account(engine, account_id)
    assert account.status == "certified" and account.provider_ref.startswith("sbx_ben_")
    assert account.certified_at is not None
    assert case_row(engine, case_id).state == "certified"

    run(services, case_id, "notify_certified", times=2)
    [email] = [e for e in emails(engine, case_id) if e.kind == "certified"]
    assert "FR76 **** **** **** **** ***0 189" in email.text_body.replace("\u00a0", " ")
    assert "AGRIFRPP" in email.text_body and "n'est pas le nôtre" in email.text_body
    assert_no_full_iban(engine, case_id, GOOD_IBAN)


def test_a_new_certified_account_replaces_the_older_one(services, engine, ad, swan):
    case_id, _, person = coop_cases(services, engine, ad)
    first = hand_in(engine, case_id, person, "jeton-1")
    run(services, case_id, "check_rib")
    run(services, case_id, "certify_account")
    with engine.transaction() as tx:  # « pas le nôtre », then staff ask for a new RIB
        tx.fire(
            case_id,
            "report_mismatch",
            actor=Actor.mandataire(person),
            payload={"message": "Ce n'est pas notre banque."},
        )
        tx.fire(case_id, "ask_new_rib", actor=Actor("staff", 1, "Claire Agent"))
    second = hand_in(engine, case_id, person, "jeton-2", iban=OTHER_IBAN, bic="BREDFRPP")
    run(services, case_id, "check_rib")
    run(services, case_id, "certify_account")

    assert bank_account(engine, first).status == "replaced"
    assert bank_account(engine, second).status == "certified"
    assert count(engine, SandboxObject, SandboxObject.kind == "beneficiary") == 2


def test_swan_down_during_the_certification_is_retried(settings, engine, ad, smtp_server, services):
    case_id, _, person = coop_cases(services, engine, ad)
    account_id = hand_in(engine, case_id, person, "jeton")
    run(services, case_id, "check_rib")
    lost = SandboxSwan(engine.db, engine.clock, base_url=settings.base_url, timeout_rate=1.0)
    step_id = pending(engine, case_id, "certify_account")
    run_step(Services(settings, engine, smtp_server.url, lost), step_id)
    assert bank_account(engine, account_id).status == "verified"  # not known certified yet
    engine.clock.advance(timedelta(minutes=10))
    run_step(services, step_id)
    assert bank_account(engine, account_id).status == "certified"
    assert count(engine, SandboxObject, SandboxObject.kind == "beneficiary") == 1


# Reminders -------------------------------------------------------------------------------


def test_a_reminder_asks_for_the_rib_once(services, engine, ad):
    case_id, _, _ = coop_cases(services, engine, ad)
    with engine.transaction() as tx:
        tx.fire(case_id, "remind", actor=SYSTEM)
    run(services, case_id, "send_reminder", times=2)
    [reminder] = [e for e in emails(engine, case_id) if e.kind == "reminder"]
    assert reminder.subject.replace("\u00a0", " ").startswith("Rappel : déposez le RIB de la")
    assert "moins de 12 mois" in reminder.text_body
    assert "/mon-espace/compte-bancaire" in reminder.text_body
