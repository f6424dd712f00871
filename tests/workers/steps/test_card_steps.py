"""The card_order steps called directly, against the simulated Swan, on both backends:
one physical card per order whatever fails (a message delivered twice, a retry after a
timeout whose request reached Swan, a worker killed between Swan's answer and the
commit, two runs crossing), Swan's statuses mapped only forward, the webhook's re-query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.card_helpers import card_at
from tests.helpers import case_of
from tests.workers.steps.test_kyc_steps import Services, case_row, count, pending, run
from workers.providers.swan.errors import SwanUnavailable
from workers.providers.swan.interface import CardOrder, NewMember
from workers.providers.swan.manual import ManualSwan
from workers.providers.swan.sandbox import SandboxSwan
from workers.runner import run_step
from workers.steps import card_order as steps
from workflows import swan_events
from workflows.engine.engine import Actor
from workflows.models import ProviderResource, Step
from workflows.models.banking import SandboxObject

SYSTEM = Actor.system("test")


class TimingOut(SandboxSwan):
    """Swan makes the card, and its answer is lost (a timeout after the work)."""

    def order_card(self, order: CardOrder):
        super().order_card(order)
        raise SwanUnavailable("Swan n'a pas répondu à temps.", uncertain=True)


@pytest.fixture
def swan(engine, settings) -> SandboxSwan:
    return SandboxSwan(engine.db, engine.clock, base_url=settings.base_url)


@pytest.fixture
def services(settings, engine, smtp_server, swan) -> Services:
    return Services(settings, engine, smtp_server.url, swan)


def physical_cards(engine) -> int:
    return count(engine, SandboxObject, SandboxObject.kind == "physical_card")


def ordering(engine, ad, swan: SandboxSwan, state: str = "ordering"):
    """A card order at ``state`` whose mandataire Swan has a membership for (tied to the
    coop's kyc case, as request_identification ties it)."""
    case = card_at(engine, ad, "to_order")
    with engine.db.read() as s:
        from workflows.models import Mandataire

        person = s.scalars(select(Mandataire).where(Mandataire.coop_id == case.coop_id)).first()
        s.expunge(person)
        coop_ref = case_row(engine, case.id).coop_id
    membership = swan.add_member(
        NewMember(
            account_id=None,
            email=person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            coop_ref=f"coop-{coop_ref}",
        )
    )
    kyc = case_of(engine, case.coop_id, "kyc")
    with engine.transaction() as tx:
        swan_events.tie(tx, tx.lock(kyc.id), "membership", membership.id)
    return card_at(engine, ad, state, person), membership.id


def test_an_order_makes_one_card_and_asks_the_mandataire_to_consent(services, engine, ad, swan):
    case, membership_id = ordering(engine, ad, swan)
    run(services, case.id, "order_card")

    found = case_row(engine, case.id)
    assert found.state == "consent_pending"
    assert physical_cards(engine) == 1
    order, card = found.data["order"], found.data["card"]
    assert order["intent_at"] <= order["ordered_at"] and order["adopted"] is False
    assert card["status"] == "ConsentPending"
    assert card["consent_url"].startswith(services.settings.base_url)
    (tied,) = swan.cards(membership_id)
    assert tied.id == order["card_id"]
    assert count(engine, ProviderResource, ProviderResource.resource_id == tied.id) == 1
    with engine.db.read() as s:
        row = s.get(
            SandboxObject,
            s.scalars(select(SandboxObject.id).where(SandboxObject.kind == "physical_card")).one(),
        )
        assert row.data["address"]["addressLine1"] == "4 avenue Thiers"
        assert row.data["printed_line"] == "COOP ECOLE THIERS"
        assert row.data["consent_redirect_url"].endswith("/mon-espace/carte")


def test_a_message_delivered_twice_orders_one_card(services, engine, ad, swan):
    case, _ = ordering(engine, ad, swan)
    run(services, case.id, "order_card", times=2)
    assert physical_cards(engine) == 1
    assert case_row(engine, case.id).state == "consent_pending"


def test_a_worker_killed_between_swans_answer_and_the_commit_orders_one_card(
    services, engine, ad, swan, monkeypatch
):
    """The first run ordered, then died before writing it: the retry adopts the card."""
    case, _ = ordering(engine, ad, swan)
    real = steps._keep

    def killed(*args, **kwargs):
        raise SwanUnavailable("worker tué avant le commit")

    monkeypatch.setattr(steps, "_keep", killed)
    step_id = run(services, case.id, "order_card")
    assert physical_cards(engine) == 1 and case_row(engine, case.id).state == "ordering"
    assert case_row(engine, case.id).data["order"]["intent_at"]

    monkeypatch.setattr(steps, "_keep", real)
    engine.clock.advance(timedelta(minutes=10))  # past the retry's backoff
    run_step(services, step_id)
    found = case_row(engine, case.id)
    assert physical_cards(engine) == 1
    assert found.state == "consent_pending" and found.data["order"]["adopted"] is True


def test_a_retry_after_a_timeout_whose_order_reached_swan_orders_one_card(
    settings, engine, ad, smtp_server, swan
):
    case, _ = ordering(engine, ad, swan)
    lost = TimingOut(engine.db, engine.clock, base_url=settings.base_url)
    step_id = run(Services(settings, engine, smtp_server.url, lost), case.id, "order_card")
    with engine.db.read() as s:
        step = s.get(Step, step_id)
        assert step.status == "pending" and "pas répondu à temps" in step.last_error
    assert physical_cards(engine) == 1

    engine.clock.advance(timedelta(minutes=10))
    run_step(Services(settings, engine, smtp_server.url, swan), step_id)
    assert physical_cards(engine) == 1
    assert case_row(engine, case.id).state == "consent_pending"


def test_two_runs_crossing_read_the_rejection_as_already_ordered(
    services, engine, ad, swan, monkeypatch
):
    """Another run ordered between this one's read and its order: Swan's
    AlreadyValidPhysicalCardRejection, and the card adopted."""
    case, membership_id = ordering(engine, ad, swan)
    reads = []
    real_cards = swan.cards

    def stale(membership: str):
        reads.append(membership)
        if len(reads) == 1:  # this run's first read, before the other's order
            swan.order_card(steps._order_of(_ctx(services), membership_id, _request(engine, case)))
            return []
        return real_cards(membership)

    monkeypatch.setattr(swan, "cards", stale)
    run(services, case.id, "order_card")
    assert physical_cards(engine) == 1
    found = case_row(engine, case.id)
    assert found.state == "consent_pending" and found.data["order"]["adopted"] is True


def _ctx(services):
    class Ctx:
        pass

    ctx = Ctx()
    ctx.services = services  # type: ignore[attr-defined]
    return ctx


def _request(engine, case):
    return case_row(engine, case.id).data["request"]


def test_a_card_canceled_at_swan_is_printed_again(services, engine, ad, swan):
    """A physical card Canceled does not count: the card is printed on again, once."""
    case, membership_id = ordering(engine, ad, swan)
    first = swan.order_card(steps._order_of(_ctx(services), membership_id, _request(engine, case)))
    swan.simulate_card(first.id, "Canceled")
    run(services, case.id, "order_card")
    assert physical_cards(engine) == 2
    (card,) = swan.cards(membership_id)
    assert card.id == first.id and card.physical_status == "ConsentPending"


def test_no_membership_at_swan_fails_the_step_for_good(services, engine, ad):
    case = card_at(engine, ad, "ordering")
    step_id = run(services, case.id, "order_card")
    with engine.db.read() as s:
        step = s.get(Step, step_id)
        assert step.status == "failed" and "aucune adhésion" in step.last_error
    assert physical_cards(engine) == 0


def test_the_manual_path_refuses_and_orders_nothing(settings, engine, ad, smtp_server, swan):
    case, _ = ordering(engine, ad, swan)
    manual = Services(settings, engine, smtp_server.url, ManualSwan(engine.db, engine.clock))
    step_id = run(manual, case.id, "order_card")
    with engine.db.read() as s:
        step = s.get(Step, step_id)
        assert step.status == "failed" and "Suivi manuel" in step.last_error
    assert physical_cards(engine) == 0


# sync_card -------------------------------------------------------------------------------


def _fire_sync(engine, case_id: int) -> None:
    with engine.transaction() as tx:
        tx.fire(case_id, "sync", actor=SYSTEM)


@pytest.mark.parametrize(
    ("status", "state"),
    [("Processing", "processing"), ("ToActivate", "shipped"), ("Activated", "activated")],
)
def test_swans_status_moves_the_case_forward(services, engine, ad, swan, status, state):
    case, _ = ordering(engine, ad, swan)
    run(services, case.id, "order_card")
    card_id = case_row(engine, case.id).data["order"]["card_id"]
    path = ["Processing", "ToActivate", "Activated"]
    for step in path[: path.index(status) + 1]:
        swan.simulate_card(card_id, step)
    _fire_sync(engine, case.id)
    run(services, case.id, "sync_card")

    found = case_row(engine, case.id)
    assert found.state == state and found.data["card"]["status"] == status
    if status == "ToActivate":
        assert found.data["card"]["tracking_number"].startswith("6A")
        assert found.data["card"]["estimated_delivery"] == "2026-09-11"
        assert found.data["card"]["consent_url"] is None


def test_a_late_status_never_moves_the_case_back(services, engine, ad, swan):
    case, _ = ordering(engine, ad, swan)
    run(services, case.id, "order_card")
    card_id = case_row(engine, case.id).data["order"]["card_id"]
    swan.simulate_card(card_id, "Processing")
    with engine.transaction() as tx:  # the case is further along than Swan says
        tx.fire(case.id, "printing", actor=SYSTEM)
        tx.fire(case.id, "shipped_by_swan", actor=SYSTEM)
    _fire_sync(engine, case.id)
    run(services, case.id, "sync_card")
    found = case_row(engine, case.id)
    assert found.state == "shipped" and found.data["card"]["status"] == "Processing"


def test_a_card_updated_webhook_syncs_the_case_it_names(services, engine, ad, swan):
    case, _ = ordering(engine, ad, swan)
    run(services, case.id, "order_card")
    card_id = case_row(engine, case.id).data["order"]["card_id"]
    (event,) = swan.simulate_card(card_id, "Processing")
    with engine.transaction() as tx:
        applied = swan_events.record(tx, swan_events.parse(event))
    assert applied.outcome == "applied"
    run(services, case.id, "sync_card")
    assert case_row(engine, case.id).state == "processing"
    assert pending(engine, case.id, "sync_card")


def test_the_sandbox_ships_a_card_printed_three_days_ago(services, engine, ad, swan):
    case, _ = ordering(engine, ad, swan)
    run(services, case.id, "order_card")
    card_id = case_row(engine, case.id).data["order"]["card_id"]
    swan.simulate_card(card_id, "Processing")
    assert swan.advance_cards() == []
    engine.clock.advance(timedelta(days=3))
    (event,) = swan.advance_cards()
    assert event["eventType"] == "Card.Updated" and event["resourceId"] == card_id
    assert swan.card(card_id).physical_status == "ToActivate"


def test_a_poll_three_days_after_printing_began_finds_the_card_shipped(services, engine, ad, swan):
    """No event came: the processing poll reads Swan's progress itself."""
    case, _ = ordering(engine, ad, swan)
    run(services, case.id, "order_card")
    card_id = case_row(engine, case.id).data["order"]["card_id"]
    swan.simulate_card(card_id, "Processing")
    _fire_sync(engine, case.id)
    run(services, case.id, "sync_card")
    assert case_row(engine, case.id).state == "processing"
    engine.clock.advance(timedelta(days=3))
    _fire_sync(engine, case.id)
    run(services, case.id, "sync_card")
    found = case_row(engine, case.id)
    assert found.state == "shipped" and found.data["card"]["tracking_number"]
