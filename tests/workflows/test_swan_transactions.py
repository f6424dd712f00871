"""Swan's incoming transfers (``workflows/swan_transactions.py``) through the real
``POST /webhooks/swan`` and the simulated Swan, on both backends: La Banque Postale's
transfer booked on a coop's account fires ``funds_received`` (and repays the coop's
disbursed advance, in the same transaction); beyond the AD's tolerance the case is
stuck with both amounts; every other transaction is kept and ignored with its French
reason; an event twice, or two events for one transaction, fire once; Swan not
answering leaves nothing kept and answers 503, so that Swan delivers it again.

The runtime has no worker: what is tested is decided in the webhook's request, and the
steps the transitions queue are not this module's (the definitions' tests run them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from coopflow.runtime import Runtime, build_runtime
from tests.security.conftest import database_rows
from tests.transfer_helpers import OLD_ACCOUNT, advance_at, attested, fire, officer
from tests.web.conftest import case_row
from web.webhooks.swan import SECRET_HEADER
from workers.providers.swan.interface import NewMember
from workers.providers.swan.manual import ManualSwan
from workers.providers.swan.sandbox_world import set_outage
from workflows import swan_events, swan_transactions
from workflows.formatting import euros
from workflows.models import AD, Case, CaseEvent, Mandataire, ProviderResource, WebhookEvent
from workflows.processes.banque_postale_transfer.attestation import funds_payload

SECRET = "secret-des-webhooks-swan"
APPLIED = {"resultat": "applied", "message": f"Solde reçu : {euros(180000)} enregistrés."}


@pytest.fixture
def runtime(settings, clock) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    """The system without its worker threads, Swan's webhook secret configured."""
    rt = build_runtime(settings.with_overrides(swan_webhook_secret=SECRET), clock=clock)
    yield rt
    rt.stop()


def post(client: Any, event: dict[str, str]) -> Any:
    return client.post(
        "/webhooks/swan",
        data=json.dumps(event).encode(),
        content_type="application/json",
        headers={SECRET_HEADER: SECRET},
    )


def swan_account(runtime: Runtime, mandataire: Mandataire) -> str:
    """The coop's Swan account, tied to its kyc case as ``request_identification`` ties
    it (the sandbox opens the account with the coop's first membership)."""
    with runtime.db.read() as session:
        person = session.get(Mandataire, mandataire.id)
        assert person is not None
        number = person.coop.affiliation_number
        kyc = session.scalars(
            select(Case.id).where(Case.coop_id == person.coop_id, Case.process == "kyc")
        ).one()
    membership = runtime.swan.add_member(  # type: ignore[attr-defined]
        NewMember(None, person.email, person.first_name, person.last_name, coop_ref=number)
    )
    with runtime.engine.transaction() as tx:
        swan_events.tie(tx, tx.lock(kyc), "account", membership.account_id)
    return str(membership.account_id)


def awaiting_funds(runtime: Runtime, ad: AD, state: str = "ready_to_send", **kwargs: Any):  # type: ignore[no-untyped-def]
    """A coop's transfer case whose letter is ready (or sent), and its Swan account."""
    mandataire, case = attested(runtime.engine, ad, **kwargs)
    case = fire(runtime.engine, case.id, "letter_ready")
    if state == "sent_to_bank":
        case = fire(runtime.engine, case.id, "mark_sent", actor=officer(ad))
    assert case.state == state
    return case, swan_account(runtime, mandataire)


def kept(runtime: Runtime) -> list[tuple[str, str | None, int | None]]:
    with runtime.db.read() as session:
        rows = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
        return [(row.outcome, row.outcome_message, row.case_id) for row in rows]


def funds_fired(runtime: Runtime, case_id: int) -> list[str]:
    with runtime.db.read() as session:
        return list(
            session.scalars(
                select(CaseEvent.actor).where(
                    CaseEvent.case_id == case_id, CaseEvent.trigger == "funds_received"
                )
            )
        )


@pytest.mark.parametrize("state", ["ready_to_send", "sent_to_bank"])
def test_la_banque_postales_transfer_records_the_funds(client, runtime, ad, state):
    case, account = awaiting_funds(runtime, ad, state)
    [event] = runtime.swan.receive_transfer(account, 180000, reference="CLOTURE 0123456A")
    answer = post(client, event)
    assert answer.status_code == 200 and answer.json == APPLIED

    after = case_row(runtime, case.id)
    assert after.state == "funds_received" and after.stuck_reason is None
    today = runtime.engine.clock.now().date().isoformat()
    assert after.data["funds"] == {
        "received_cents": 180000,
        "received_on": today,
        "source": "swan",
        "transaction_id": event["resourceId"],
        "recorded_by": "Swan",
    }
    assert after.data["attestation"]["declared_cents"] == 180000  # kept beside it
    assert funds_fired(runtime, case.id) == ["system Swan"]
    assert kept(runtime) == [("applied", APPLIED["message"], case.id)]
    with runtime.db.read() as session:
        tied = session.scalars(
            select(ProviderResource).where(ProviderResource.kind == "transaction")
        ).one()
    assert (tied.resource_id, tied.case_id) == (event["resourceId"], case.id)


def test_the_funds_repay_the_coops_disbursed_advance_in_the_same_transaction(client, runtime, ad):
    advance = advance_at(runtime.engine, ad, "disbursed")
    with runtime.db.read() as session:
        mandataire = session.scalars(
            select(Mandataire).where(Mandataire.coop_id == advance.coop_id)
        ).one()
        transfer_id = session.scalars(
            select(Case.id).where(
                Case.coop_id == advance.coop_id, Case.process == "banque_postale_transfer"
            )
        ).one()
    fire(runtime.engine, transfer_id, "letter_ready")
    account = swan_account(runtime, mandataire)

    [event] = runtime.swan.receive_transfer(account, 180000)
    assert post(client, event).json == APPLIED
    assert case_row(runtime, transfer_id).state == "funds_received"
    assert case_row(runtime, advance.id).state == "repaid"
    with runtime.db.read() as session:
        [repaid] = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == advance.id, CaseEvent.trigger == "repay")
        ).all()
        noted = session.scalars(
            select(CaseEvent.comment).where(
                CaseEvent.case_id == transfer_id, CaseEvent.kind == "effect"
            )
        ).one()
        funds_at = session.scalars(
            select(CaseEvent.at).where(
                CaseEvent.case_id == transfer_id, CaseEvent.trigger == "funds_received"
            )
        ).one()
    assert repaid.at == funds_at  # one transaction, one moment
    assert f"dossier {advance.id}" in (noted or "")


def test_beyond_the_ads_tolerance_the_case_is_stuck_with_both_amounts(client, runtime, ad):
    case, account = awaiting_funds(runtime, ad)
    [event] = runtime.swan.receive_transfer(account, 170000)
    assert post(client, event).json["resultat"] == "applied"
    after = case_row(runtime, case.id)
    assert (after.state, after.stuck_reason) == ("funds_received", "transfer_amount_mismatch")
    assert after.stuck_message is not None
    message = after.stuck_message.replace("\u202f", " ").replace("\xa0", " ")
    assert "1 700,00 €" in message and "1 800,00 €" in message and "100,00 €" in message
    assert after.stuck_action == "accept_amount"


def test_within_the_ads_tolerance_the_case_is_not_stuck(client, runtime, ad):
    case, account = awaiting_funds(runtime, ad)  # the AD's tolerance: 1,00 €
    [event] = runtime.swan.receive_transfer(account, 179900)
    assert post(client, event).json["resultat"] == "applied"
    after = case_row(runtime, case.id)
    assert (after.state, after.stuck_reason) == ("funds_received", None)
    assert after.data["funds"]["received_cents"] == 179900


def test_from_the_attested_old_account_under_another_name_it_is_the_balance(client, runtime, ad):
    case, account = awaiting_funds(runtime, ad)
    [event] = runtime.swan.receive_transfer(
        account, 180000, debtor="OCCE COOP ECOLE", debtor_iban=OLD_ACCOUNT
    )
    assert post(client, event).json == APPLIED
    assert case_row(runtime, case.id).state == "funds_received"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"side": "Debit", "kind": "SepaCreditTransferOut"},
            "Opération au débit du compte : pas un versement reçu.",
        ),
        ({"kind": "CardInCredit"}, "Opération « CardInCredit » : pas un virement SEPA reçu."),
        ({"status": "Pending"}, "Virement pas encore comptabilisé par Swan (statut « Pending »)."),
        ({"currency": "CHF"}, "Virement en CHF : seuls les virements en euros sont suivis."),
        (
            {"debtor": "Famille Martin", "debtor_iban": "FR7620041010050987654B03162"},
            "Virement de « Famille Martin » : il ne vient pas de La Banque Postale.",
        ),
    ],
    ids=["debit", "card", "pending", "francs", "a-family"],
)
def test_what_is_not_the_balance_is_kept_and_ignored(client, runtime, ad, change, message):
    case, account = awaiting_funds(runtime, ad)
    [event] = runtime.swan.simulate_transaction(account, 180000, **change)
    # Whatever the event says, Swan's answer decides (a « Booked » read as « Pending »).
    answer = post(client, {**event, "eventType": "Transaction.Booked"})
    assert answer.status_code == 200
    assert answer.json == {"resultat": "ignored", "message": message}
    assert case_row(runtime, case.id).state == "ready_to_send"
    assert funds_fired(runtime, case.id) == []
    [(outcome, kept_message, _)] = kept(runtime)
    assert (outcome, kept_message) == ("ignored", message)


BOOKED = {
    "eventType": "Transaction.Booked",
    "eventId": "evt-booked-1",
    "eventDate": "2026-09-07T09:00:00.000Z",
    "projectId": "sandbox",
}


def test_a_transfer_to_an_account_coopflow_does_not_know_is_ignored(client, runtime, ad):
    case, _ = awaiting_funds(runtime, ad)
    other = runtime.swan.add_member(
        NewMember(None, "autre@ac-nice.fr", "Autre", "Personne", coop_ref="0069999Z")
    )
    [event] = runtime.swan.receive_transfer(other.account_id, 180000)
    assert post(client, event).json == {
        "resultat": "ignored",
        "message": "Compte Swan inconnu de coopflow.",
    }
    assert case_row(runtime, case.id).state == "ready_to_send"


def test_a_transaction_swan_does_not_know_is_ignored_with_swans_words(client, runtime, ad):
    awaiting_funds(runtime, ad)
    answer = post(client, {**BOOKED, "resourceId": "sbx_txn_inconnu"})
    assert answer.json == {
        "resultat": "ignored",
        "message": "Swan n'a pas donné ce virement : "
        "Swan (bac à sable) : virement inconnu (sbx_txn_inconnu).",
    }


def test_no_transfer_waiting_for_funds_means_nothing_to_record(client, runtime, ad):
    mandataire, case = attested(runtime.engine, ad)  # the letter is not ready yet
    account = swan_account(runtime, mandataire)
    [event] = runtime.swan.receive_transfer(account, 180000)
    assert post(client, event).json == {
        "resultat": "ignored",
        "message": "Aucun solde attendu : dossier à l'état « Attestation reçue, lettre à "
        "La Banque Postale en préparation ».",
    }
    assert case_row(runtime, case.id).state == "attested"


def test_funds_staff_recorded_already_are_not_recorded_again(client, runtime, ad):
    case, account = awaiting_funds(runtime, ad)
    staff = officer(ad)
    with runtime.engine.transaction() as tx:
        locked = tx.lock(case.id)
        payload = funds_payload(
            locked,
            locked.coop.ad,
            received_cents=180000,
            received_on=tx.now.date(),
            source="staff",
        )
        tx.fire(case.id, "funds_received", actor=staff, payload=payload)
    [event] = runtime.swan.receive_transfer(account, 180000)
    assert post(client, event).json == {
        "resultat": "ignored",
        "message": "Solde déjà reçu : dossier à l'état « Solde reçu sur le nouveau compte ».",
    }
    assert len(funds_fired(runtime, case.id)) == 1


def test_the_same_event_twice_and_a_second_event_of_the_transfer_fire_once(client, runtime, ad):
    case, account = awaiting_funds(runtime, ad)
    [event] = runtime.swan.receive_transfer(account, 180000)
    assert post(client, event).json == APPLIED
    assert post(client, event).json == {"resultat": "duplicate", "message": "Événement déjà reçu."}
    again = post(client, {**event, "eventId": "sbx_evt_autre_livraison"})
    assert again.json == {"resultat": "ignored", "message": "Virement déjà enregistré."}
    assert funds_fired(runtime, case.id) == ["system Swan"]
    assert [outcome for outcome, _, _ in kept(runtime)] == ["applied", "ignored"]


def test_swan_not_answering_keeps_nothing_and_the_redelivery_records_it(client, runtime, ad, clock):
    case, account = awaiting_funds(runtime, ad)
    [event] = runtime.swan.receive_transfer(account, 180000)
    set_outage(runtime.db, clock.now() + timedelta(minutes=5))
    before = database_rows(runtime)
    for _ in range(2):  # a 500, then a timeout after Swan answered: both transient
        answer = post(client, event)
        assert answer.status_code == 503
        assert answer.json == {
            "erreur": "Swan n'a pas répondu à temps : événement non enregistré, à renvoyer."
        }
    assert database_rows(runtime) == before
    clock.advance(timedelta(minutes=6))  # Swan is back; it delivers the event again
    assert post(client, event).json == APPLIED
    assert case_row(runtime, case.id).state == "funds_received"


def test_on_the_manual_path_the_event_is_kept_for_staff_to_record(runtime, ad):
    """No transaction is read (staff record the funds): the event says why."""
    case, _ = awaiting_funds(runtime, ad)
    event = swan_events.parse({**BOOKED, "resourceId": "txn_1"})
    manual = ManualSwan(runtime.db, runtime.engine.clock)
    applied = swan_transactions.receive(runtime.engine, event, manual)
    assert applied == swan_events.Applied(
        "ignored",
        "Swan n'a pas donné ce virement : Suivi manuel : coopflow ne lit pas les virements "
        "chez Swan ; l'AD enregistre le solde reçu dans le dossier.",
    )
    assert case_row(runtime, case.id).state == "ready_to_send"
