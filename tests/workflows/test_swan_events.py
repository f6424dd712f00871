"""Swan's webhook events as the domain keeps them (``workflows/swan_events.py``), on both
backends: parsed with French errors, kept once, a ``sync`` fired on the case of their
resource in an open state only, and no second sync while one waits to run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tests.factories import MandataireFactory
from tests.helpers import invitation_case
from workflows import swan_events
from workflows.engine.engine import Actor
from workflows.engine.errors import ValidationError
from workflows.models import Case, CaseEvent, ProviderResource, Step, WebhookEvent

SYSTEM = Actor.system("test")
MEMBERSHIP = "sbx_mem_0123456789abcdef"


def event(event_id: str = "evt-1", event_type: str = "AccountMembership.Updated", **more):
    return {
        "eventType": event_type,
        "eventId": event_id,
        "eventDate": "2026-09-07T09:00:00.000Z",
        "projectId": "sandbox",
        "resourceId": MEMBERSHIP,
        **more,
    }


@pytest.fixture
def kyc_case(engine, ad) -> int:
    """A coop's kyc case at ``link_sent``, its membership tied to it."""
    person = MandataireFactory(coop__ad=ad, password_hash="argon2-hash-of-the-tests")
    with engine.transaction() as tx:
        invitation_case(tx, person, "sent", "set_password", "first_login")
        case = tx.session.scalars(
            select(Case).where(Case.coop_id == person.coop_id, Case.process == "kyc")
        ).one()
        swan_events.tie(tx, case, "membership", MEMBERSHIP)
        return case.id


def record(engine, document) -> swan_events.Applied:
    with engine.transaction() as tx:
        return swan_events.record(tx, swan_events.parse(document))


def syncs(engine, case_id: int) -> tuple[int, int]:
    """The ``sync`` fired on the case, and its sync steps."""
    with engine.db.read() as s:
        fired = s.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.trigger == "sync")
        )
        steps = s.scalar(
            select(func.count())
            .select_from(Step)
            .where(Step.case_id == case_id, Step.name == "sync_identification")
        )
    return int(fired or 0), int(steps or 0)


def test_an_event_is_parsed_with_its_date_in_utc():
    parsed = swan_events.parse(event())
    assert parsed.occurred_at == datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
    assert (parsed.event_type, parsed.resource_id) == ("AccountMembership.Updated", MEMBERSHIP)
    assert parsed.payload()["resourceId"] == MEMBERSHIP


def test_every_problem_of_an_event_is_said_in_french():
    with pytest.raises(ValidationError) as refused:
        swan_events.parse({"eventId": "", "eventDate": "hier", "resourceId": "a\nb"})
    assert refused.value.errors == [
        "eventId manquant ou invalide : texte attendu.",
        "eventType manquant ou invalide : texte attendu.",
        "projectId manquant ou invalide : texte attendu.",
        "resourceId invalide : au plus 200 caractères, sans caractère de contrôle.",
        "eventDate invalide : une date ISO 8601 avec fuseau horaire est attendue.",
    ]
    with pytest.raises(ValidationError, match="objet JSON"):
        swan_events.parse([event()])


def test_an_event_on_a_membership_fires_one_sync_and_is_kept_once(engine, kyc_case):
    assert record(engine, event()).outcome == "applied"
    assert record(engine, event()) == swan_events.Applied("duplicate", "Événement déjà reçu.")
    assert syncs(engine, kyc_case) == (1, 1)
    with engine.db.read() as s:
        row = s.scalars(select(WebhookEvent)).one()
    assert (row.source, row.case_id, row.outcome) == ("swan", kyc_case, "applied")


def test_a_second_event_while_the_sync_waits_queues_no_other(engine, kyc_case):
    """The first event's sync is not started yet: it will read Swan after the second
    change too, so the second event is kept and fires nothing more."""
    record(engine, event("evt-1"))
    second = record(engine, event("evt-2", "AccountMembership.Bound"))
    assert second == swan_events.Applied(
        "applied", "Statut déjà demandé à Swan : demande en attente."
    )
    assert syncs(engine, kyc_case) == (1, 1)

    with engine.db.write() as s:  # a worker has taken the sync: it may have read Swan
        step = s.scalars(select(Step).where(Step.name == "sync_identification")).one()
        step.status = "running"
    assert record(engine, event("evt-3")).outcome == "applied"
    assert syncs(engine, kyc_case) == (2, 2)


def test_a_case_no_longer_open_asks_swan_nothing(engine, kyc_case):
    with engine.transaction() as tx:
        tx.fire(kyc_case, "validate", actor=Actor("staff", 1, "Claire Agent"))
    answer = record(engine, event())
    assert answer == swan_events.Applied(
        "ignored", "Dossier à l'état « Identité vérifiée » : rien à demander à Swan."
    )
    assert syncs(engine, kyc_case) == (0, 0)
    with engine.db.read() as s:
        assert s.scalars(select(WebhookEvent.case_id)).one() == kyc_case


def test_a_resource_of_another_kind_is_not_synced(engine, kyc_case):
    with engine.transaction() as tx:
        swan_events.tie(tx, tx.lock(kyc_case), "account", "sbx_acc_1")
    answer = record(engine, {**event(), "resourceId": "sbx_acc_1"})
    assert answer == swan_events.Applied("ignored", "Ressource Swan inconnue de coopflow.")


def test_a_resource_tied_again_belongs_to_the_newer_case_once(engine, kyc_case):
    """A new kyc case of the coop (a new mandataire's) takes the membership over."""
    with engine.transaction() as tx:
        newer = tx.start("kyc", tx.lock(kyc_case).coop_id, actor=SYSTEM)
        swan_events.tie(tx, newer, "membership", MEMBERSHIP)
        swan_events.tie(tx, newer, "membership", MEMBERSHIP)
    with engine.db.read() as s:
        [tied] = s.scalars(select(ProviderResource)).all()
        assert tied.case_id == newer.id
        assert swan_events.tied(s, "membership", case_id=newer.id) == MEMBERSHIP
        assert swan_events.tied(s, "membership", case_id=kyc_case) is None
