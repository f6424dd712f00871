"""The real Swan client's ``transaction(id)`` against the local fake Swan: Swan's
answer read into the domain's transaction (cents from the decimal string, the date in
Europe/Paris, the debtor's IBAN compact), an unknown id refused for good, and a slow
Swan given the short timeout of a read made inside a webhook's request."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import urllib3

from tests.fakes.swan_model import GraphQLError
from tests.fakes.swan_server import FakeSwan
from workers.providers.swan import client as swan_client
from workers.providers.swan.client import GraphQLSwan
from workers.providers.swan.errors import SwanRejected, SwanUnavailable
from workers.providers.swan.limiter import LocalBudget
from workflows.swan_transactions import Transaction

#: A SEPA credit transfer as Swan's ``transaction(id)`` answers it (partner schema).
NODE: dict[str, Any] = {
    "__typename": "SEPACreditTransferTransaction",
    "id": "bosci_5f0c4b2a",
    "type": "SepaCreditTransferIn",
    "side": "Credit",
    "reference": "CLOTURE CCP 0123456A",
    "label": "VIR SEPA LA BANQUE POSTALE CLOTURE CCP 0123456A",
    "counterparty": "LA BANQUE POSTALE",
    "executionDate": "2026-10-11T22:30:00.000Z",
    "amount": {"value": "1799.5", "currency": "EUR"},
    "statusInfo": {"__typename": "BookedTransactionStatusInfo", "status": "Booked"},
    "account": {"id": "acc_coop_1"},
    "debtor": {"name": "LA BANQUE POSTALE", "IBAN": "FR51 2004 1010 0501 2345 6A02 084"},
}


@pytest.fixture
def swan():
    with FakeSwan() as fake:
        found = {NODE["id"]: NODE}

        def transaction(variables: dict[str, Any]) -> dict[str, Any]:
            if variables["id"] not in found:
                raise GraphQLError("Transaction not found", code="NOT_FOUND")
            return found[variables["id"]]

        fake.handlers["transaction"] = transaction
        fake.found = found  # type: ignore[attr-defined]
        yield fake


def connect(swan: FakeSwan) -> GraphQLSwan:
    return GraphQLSwan(**swan.client_settings(), timeout=10.0, budget=LocalBudget())


def test_a_transfer_is_read_in_cents_on_its_paris_date(swan: FakeSwan):
    assert connect(swan).transaction(NODE["id"]) == Transaction(
        id=NODE["id"],
        account_id="acc_coop_1",
        type="SepaCreditTransferIn",
        side="Credit",
        status="Booked",
        amount_cents=179950,
        currency="EUR",
        reference="CLOTURE CCP 0123456A",
        label="VIR SEPA LA BANQUE POSTALE CLOTURE CCP 0123456A",
        debtor_name="LA BANQUE POSTALE",
        debtor_iban="FR5120041010050123456A02084",
        execution_date=date(2026, 10, 12),  # 00:30 in Paris
    )


def test_a_card_payment_has_no_debtor_but_its_counterparty(swan: FakeSwan):
    card = {**NODE, "id": "card_1", "type": "CardOutDebit", "side": "Debit"}
    del card["debtor"]
    card["counterparty"] = "LIBRAIRIE MASSENA"
    swan.found["card_1"] = card  # type: ignore[attr-defined]
    read = connect(swan).transaction("card_1")
    assert (read.side, read.debtor_name, read.debtor_iban) == ("Debit", "LIBRAIRIE MASSENA", None)


@pytest.mark.parametrize(
    ("value", "cents"), [("1056", 105600), ("0.01", 1), ("-1.50", -150), ("1800.00", 180000)]
)
def test_swans_decimal_strings_are_exact_cents(swan: FakeSwan, value: str, cents: int):
    swan.found[NODE["id"]] = {**NODE, "amount": {"value": value, "currency": "EUR"}}  # type: ignore[attr-defined]
    assert connect(swan).transaction(NODE["id"]).amount_cents == cents


@pytest.mark.parametrize("value", [1799.5, "1799.505", "NaN", "mille", None])
def test_an_amount_that_is_not_euros_and_cents_is_an_unexpected_answer(swan: FakeSwan, value):
    swan.found[NODE["id"]] = {**NODE, "amount": {"value": value, "currency": "EUR"}}  # type: ignore[attr-defined]
    with pytest.raises(SwanRejected, match="virement illisible") as refused:
        connect(swan).transaction(NODE["id"])
    assert refused.value.code == "UnexpectedAnswer"


def test_a_transaction_swan_does_not_know_is_refused_for_good(swan: FakeSwan):
    with pytest.raises(SwanRejected, match="Transaction not found"):
        connect(swan).transaction("bosci_inconnu")


def test_a_slow_swan_fails_fast_inside_the_webhooks_request(swan: FakeSwan, monkeypatch):
    """The client waits 10 s for a step's call, a webhook's read only the short timeout:
    Swan wants the webhook's answer within 10 s."""
    monkeypatch.setattr(swan_client, "IN_REQUEST_TIMEOUT", urllib3.Timeout(connect=1, read=0.2))
    client = connect(swan)
    client.transaction(NODE["id"])  # the token, fetched at the client's own timeout
    swan.hang_next(1, seconds=2, after_processing=True, field="transaction")
    with pytest.raises(SwanUnavailable, match="pas de réponse"):
        client.transaction(NODE["id"])
