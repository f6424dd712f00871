"""Swan's ``Card.Created`` and ``Card.Updated`` events (``workflows/swan_events.py``), on
both backends: a ``sync`` of the card_order case whose card they name (ProviderResource
kind ``card``), one while a sync waits to run, none for a case already final, a card
coopflow does not know or a resource of another kind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.card_helpers import card_at
from workflows import swan_events
from workflows.models import CaseEvent, Step

CARD = "sbx_card_0123456789abcdef"


def event(event_id: str = "evt-card-1", event_type: str = "Card.Updated", resource=CARD):
    return {
        "eventType": event_type,
        "eventId": event_id,
        "eventDate": "2026-10-07T09:00:00.000Z",
        "projectId": "sandbox",
        "resourceId": resource,
    }


def record(engine, document) -> swan_events.Applied:
    with engine.transaction() as tx:
        return swan_events.record(tx, swan_events.parse(document))


def tied_at(engine, ad, state: str, kind: str = "card") -> int:
    case = card_at(engine, ad, state)
    with engine.transaction() as tx:
        swan_events.tie(tx, tx.lock(case.id), kind, CARD)
    return case.id


def syncs(engine, case_id: int) -> tuple[int, int]:
    with engine.db.read() as s:
        fired = s.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.trigger == "sync")
        )
        steps = s.scalar(
            select(func.count())
            .select_from(Step)
            .where(Step.case_id == case_id, Step.name == "sync_card")
        )
    return int(fired or 0), int(steps or 0)


@pytest.mark.parametrize("event_type", ["Card.Created", "Card.Updated"])
@pytest.mark.parametrize("state", ["ordering", "consent_pending", "processing", "shipped"])
def test_a_card_event_syncs_the_case_of_its_card(engine, ad, event_type, state):
    case_id = tied_at(engine, ad, state)
    applied = record(engine, event(event_type=event_type))
    assert (applied.outcome, applied.message) == ("applied", "Statut demandé à Swan.")
    assert syncs(engine, case_id) == (1, 1)


def test_a_second_event_while_the_sync_waits_asks_nothing_more(engine, ad):
    case_id = tied_at(engine, ad, "processing")
    record(engine, event("evt-1"))
    applied = record(engine, event("evt-2"))
    assert applied.message == "Statut déjà demandé à Swan : demande en attente."
    assert syncs(engine, case_id) == (1, 1)
    assert record(engine, event("evt-2")).outcome == "duplicate"


def test_a_card_event_of_an_activated_card_is_kept_and_ignored(engine, ad):
    """The case is final: the portal reads the card's later statuses itself."""
    case_id = tied_at(engine, ad, "activated")
    applied = record(engine, event())
    assert applied.outcome == "ignored" and "Carte activée" in applied.message
    assert syncs(engine, case_id) == (0, 0)


def test_a_card_coopflow_does_not_know_is_ignored(engine, ad):
    tied_at(engine, ad, "processing")
    applied = record(engine, event(resource="sbx_card_inconnue"))
    assert (applied.outcome, applied.message) == ("ignored", "Ressource Swan inconnue de coopflow.")


def test_a_card_event_naming_a_membership_is_ignored(engine, ad):
    case_id = tied_at(engine, ad, "processing", kind="membership")
    applied = record(engine, event())
    assert applied.message == "Ressource Swan inconnue de coopflow."
    assert syncs(engine, case_id) == (0, 0)
