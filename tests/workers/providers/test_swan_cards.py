"""The coop's card through the real Swan client against the local fake Swan
(tests/fakes/swan_server.py), which counts the physical cards it made: the reads and
the order as Swan's schema names them, and the order step run twice, after a timeout
whose request reached Swan, and after a worker killed between Swan's answer and the
commit: one physical card each time."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.card_helpers import card_at
from tests.fakes.swan_server import FakeSwan
from tests.helpers import case_of
from tests.workers.steps.test_kyc_steps import Services, case_row, run
from workers.providers.swan.client import GraphQLSwan
from workers.providers.swan.errors import SwanRejected, SwanUnavailable
from workers.providers.swan.interface import CardAddress, CardOrder
from workers.providers.swan.limiter import LocalBudget
from workers.runner import run_step
from workers.steps import card_order as steps
from workflows import swan_events
from workflows.models import Mandataire

ACCOUNT = "acc_coop_1"
CONSENT = "https://coopflow.test/mon-espace/carte"
SCHOOL = CardAddress(line1="4 avenue Thiers", city="Nice", postal_code="06000")


@pytest.fixture
def fake():
    with FakeSwan(accounts=(ACCOUNT,)) as swan:
        yield swan


def connect(fake: FakeSwan, *, timeout: float = 2.0) -> GraphQLSwan:
    return GraphQLSwan(
        **fake.client_settings(),  # type: ignore[arg-type]
        timeout=timeout,
        budget=LocalBudget(),
        consent_redirect_url=CONSENT,
    )


def order(membership_id: str, **changes) -> CardOrder:
    values = {
        "membership_id": membership_id,
        "address": SCHOOL,
        "printed_line": "COOP ECOLE THIERS",
        "consent_redirect_url": CONSENT,
        **changes,
    }
    return CardOrder(**values)


# -- the adapter ---------------------------------------------------------------------------


def test_a_membership_without_a_card_gets_one_with_its_physical_card(fake):
    client = connect(fake)
    membership = fake.add_membership(ACCOUNT, "claire.martin@ac-nice.fr")
    assert client.cards(membership) == []

    card = client.order_card(order(membership))

    assert (fake.created["cards"], fake.physical_cards_made) == (1, 1)
    assert card.physical_status == "ConsentPending"
    assert (card.consent_url or "").startswith("https://")
    assert fake.graphql_requests("addCards") and not fake.graphql_requests("printPhysicalCard")
    physical = fake.cards[card.id].physical
    assert physical["address"] == {
        "addressLine1": "4 avenue Thiers",
        "city": "Nice",
        "postalCode": "06000",
        "country": "FRA",
    }
    assert physical["additionalPrintedLine"] == "COOP ECOLE THIERS"
    assert client.cards(membership) == [card]


def test_a_virtual_card_is_printed_rather_than_a_new_card_added(fake):
    client = connect(fake)
    membership = fake.add_membership(ACCOUNT, "claire.martin@ac-nice.fr")
    fake._add_cards(
        {
            "input": {
                "consentRedirectUrl": CONSENT,
                "cards": [
                    {
                        "accountMembershipId": membership,
                        "withdrawal": False,
                        "international": False,
                        "nonMainCurrencyTransactions": False,
                        "eCommerce": True,
                        "spendingLimit": {"period": "Monthly"},
                    }
                ],
            }
        }
    )
    (virtual,) = fake.cards

    card = client.order_card(order(membership))
    assert card.id == virtual and card.physical_status == "ConsentPending"
    assert (fake.created["cards"], fake.physical_cards_made) == (1, 1)
    assert len(fake.graphql_requests("printPhysicalCard")) == 1


def test_a_second_order_is_refused_as_already_ordered(fake):
    client = connect(fake)
    membership = fake.add_membership(ACCOUNT, "claire.martin@ac-nice.fr")
    client.order_card(order(membership))
    with pytest.raises(SwanRejected) as refused:
        client.order_card(order(membership))
    assert refused.value.code == "AlreadyValidPhysicalCardRejection"
    assert fake.physical_cards_made == 1


def test_a_shipped_card_reads_its_tracking_and_delivery(fake):
    client = connect(fake)
    membership = fake.add_membership(ACCOUNT, "claire.martin@ac-nice.fr")
    card = client.order_card(order(membership))
    fake.set_physical_status(
        card.id,
        "ToActivate",
        trackingNumber="6A12345678901",
        estimatedDeliveryDate="2026-11-11T23:30:00.000Z",
        isPINReady=True,
    )
    shipped = client.card(card.id)
    assert shipped.physical_status == "ToActivate" and shipped.consent_url is None
    assert shipped.tracking_number == "6A12345678901" and shipped.pin_ready is True
    assert shipped.estimated_delivery == date(2026, 11, 12)  # Paris' day


def test_an_address_over_swans_limits_is_refused_with_its_field(fake):
    client = connect(fake)
    membership = fake.add_membership(ACCOUNT, "claire.martin@ac-nice.fr")
    long_city = CardAddress(line1="4 avenue Thiers", city="N" * 31, postal_code="06000")
    with pytest.raises(SwanRejected) as refused:
        client.order_card(order(membership, address=long_city))
    assert refused.value.code == "ValidationRejection" and "city" in refused.value.fields[0]
    assert fake.physical_cards_made == 0


def test_an_unknown_card_is_not_found(fake):
    with pytest.raises(SwanRejected) as refused:
        connect(fake).card("card_404")
    assert refused.value.code == "NotFound"


# -- the step, through the real client --------------------------------------------------


def ordering(engine, ad, fake: FakeSwan):
    case = card_at(engine, ad, "to_order")
    with engine.db.read() as s:
        person = s.query(Mandataire).filter_by(coop_id=case.coop_id).first()
        s.expunge(person)
    membership = fake.add_membership(ACCOUNT, person.email)
    kyc = case_of(engine, case.coop_id, "kyc")
    with engine.transaction() as tx:
        swan_events.tie(tx, tx.lock(kyc.id), "membership", membership)
    return card_at(engine, ad, "ordering", person)


def test_the_step_run_twice_makes_one_card(settings, engine, ad, smtp_server, fake):
    services = Services(settings, engine, smtp_server.url, connect(fake))
    case = ordering(engine, ad, fake)
    run(services, case.id, "order_card", times=2)
    assert fake.physical_cards_made == 1
    assert case_row(engine, case.id).state == "consent_pending"


def test_a_timeout_whose_order_reached_swan_is_retried_into_the_same_card(
    settings, engine, ad, smtp_server, fake
):
    services = Services(settings, engine, smtp_server.url, connect(fake, timeout=0.3))
    case = ordering(engine, ad, fake)
    fake.hang_next(1, seconds=1.0, after_processing=True, field="addCards")
    step_id = run(services, case.id, "order_card")
    assert fake.physical_cards_made == 1
    assert case_row(engine, case.id).state == "ordering"

    engine.clock.advance(timedelta(minutes=10))
    run_step(services, step_id)
    assert fake.physical_cards_made == 1 and len(fake.graphql_requests("addCards")) == 1
    found = case_row(engine, case.id)
    assert found.state == "consent_pending" and found.data["order"]["adopted"] is True


def test_a_worker_killed_after_swans_answer_orders_one_card(
    settings, engine, ad, smtp_server, fake, monkeypatch
):
    services = Services(settings, engine, smtp_server.url, connect(fake))
    case = ordering(engine, ad, fake)
    real = steps._keep

    def killed(*args, **kwargs):
        raise SwanUnavailable("worker tué entre la réponse de Swan et le commit")

    monkeypatch.setattr(steps, "_keep", killed)
    step_id = run(services, case.id, "order_card")
    monkeypatch.setattr(steps, "_keep", real)
    engine.clock.advance(timedelta(minutes=10))
    run_step(services, step_id)

    assert fake.physical_cards_made == 1
    assert case_row(engine, case.id).state == "consent_pending"
