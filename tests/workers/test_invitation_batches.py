"""The invitation emails of one message are stored together: one transaction reads their
cases, issues their links and stores the emails, each is handed to the server, one
transaction records the answers. Each step keeps the meaning it has alone: a failure,
a refusal or a deadline touches its own step only, and nothing is sent twice."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from tests.factories import MandataireFactory
from workers.providers.mail import make_mailer
from workers.providers.mail.errors import MailUnavailable
from workers.runner import run_steps
from workflows.engine.engine import Actor, Engine, StepTiming
from workflows.links import Links, NewLink
from workflows.models import Case, Email, Step, Token
from workflows.processes import DEFINITIONS

SYSTEM = Actor.system("test")


class Services:
    def __init__(self, settings, engine, mailer):
        self.settings = settings
        self.engine = engine
        self.mailer = mailer
        self.links = Links(settings.secret_key)


@pytest.fixture
def services(settings, engine, smtp_server):
    return Services(settings, engine, make_mailer(smtp_server.url))


def _invite(engine, ad, count):
    """``count`` mandataires invited in one transaction (as an import does): the cases,
    the step ids (one message's worth), the addresses."""
    people = [MandataireFactory(coop__ad=ad) for _ in range(count)]
    with engine.transaction() as tx:
        cases = tx.start_many(
            "invitation",
            [(m.coop_id, {"mandataire_id": m.id}) for m in people],
            actor=SYSTEM,
            trigger="invite",
        )
        case_ids = [case.id for case in cases]
    with engine.db.read() as s:
        step_ids = s.scalars(
            select(Step.id).where(Step.case_id.in_(case_ids)).order_by(Step.id)
        ).all()
    return case_ids, list(step_ids), [m.email for m in people]


def _states(engine, case_ids):
    with engine.db.read() as s:
        return [s.get(Case, i).state for i in case_ids]


def _steps(engine, step_ids):
    with engine.db.read() as s:
        return [s.get(Step, i) for i in step_ids]


def _emails(engine, case_ids):
    with engine.db.read() as s:
        by_case = {e.case_id: e for e in s.scalars(select(Email))}
        return [by_case.get(i) for i in case_ids]


class FailsOn:
    """The real client, but the server becomes unreachable at the n-th message."""

    def __init__(self, mailer, at: int, error: Exception) -> None:
        self.mailer, self.at, self.error = mailer, at, error
        self.delivered_status = mailer.delivered_status
        self.tried: list[str] = []

    def send(self, message):
        self.tried.append(str(message["To"]))
        if len(self.tried) == self.at:
            raise self.error
        self.mailer.send(message)


def test_the_emails_of_a_message_cost_the_statements_of_one(services, engine, ad, smtp_server):
    """Reading the cases, issuing the links, storing and recording the emails: the same
    statements for 2 invitations as for 8 (on PostgreSQL: SQLite inserts one row per
    statement when the ids are returned, without a round trip)."""
    if engine.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite inserts one row per statement when ids are returned")
    costs = {}
    for size in (2, 8):
        case_ids, step_ids, addresses = _invite(engine, ad, size)
        counted: list[str] = []
        target = engine.db.engine

        def count(_conn, _cursor, statement, *_, counted=counted):
            counted.append(statement)

        event.listen(target, "before_cursor_execute", count)
        try:
            run_steps(services, step_ids)
        finally:
            event.remove(target, "before_cursor_execute", count)
        costs[size] = len(counted)
        assert _states(engine, case_ids) == ["invited"] * size
        assert all(len(smtp_server.to(address)) == 1 for address in addresses)
        assert [e.status for e in _emails(engine, case_ids)] == ["sent"] * size
    assert costs[8] == costs[2], costs


def test_a_case_without_mandataire_fails_alone(services, engine, ad, smtp_server):
    case_ids, step_ids, addresses = _invite(engine, ad, 3)
    with engine.transaction() as tx:
        case = tx.session.get(Case, case_ids[1])
        case.data = {**case.data, "mandataire_id": 987654}
    run_steps(services, step_ids)
    assert _states(engine, case_ids) == ["invited", "sending", "invited"]
    with engine.db.read() as s:
        assert [s.get(Case, i).stuck_reason for i in case_ids] == [None, "step_failed", None]
    failed = _steps(engine, step_ids)[1]
    assert failed.status == "failed" and "Aucun mandataire" in failed.last_error
    assert [len(smtp_server.to(a)) for a in addresses] == [1, 0, 1]
    assert _emails(engine, case_ids)[1] is None


def test_a_refused_recipient_bounces_alone(services, engine, ad, smtp_server):
    case_ids, step_ids, addresses = _invite(engine, ad, 3)
    smtp_server.refused = {addresses[0].lower()}
    run_steps(services, step_ids)
    assert _states(engine, case_ids) == ["bounced", "invited", "invited"]
    assert [e.status for e in _emails(engine, case_ids)] == ["refused", "sent", "sent"]


def test_a_recipient_put_off_does_not_hold_back_the_others(
    services, engine, ad, smtp_server, clock
):
    case_ids, step_ids, addresses = _invite(engine, ad, 3)
    smtp_server.refused_temporarily = {addresses[1].lower()}
    run_steps(services, step_ids)
    assert _states(engine, case_ids) == ["invited", "sending", "invited"]
    put_off = _emails(engine, case_ids)[1]
    assert (put_off.status, put_off.handed_at) == ("sending", None)  # retried without waiting
    step = _steps(engine, step_ids)[1]
    assert step.status == "pending" and "451" in step.last_error

    smtp_server.refused_temporarily = set()
    clock.advance(step.not_before - clock.now())
    run_steps(services, [step_ids[1]])
    assert [len(smtp_server.to(a)) for a in addresses] == [1, 1, 1]
    assert _states(engine, case_ids) == ["invited"] * 3


def test_a_server_lost_midway_leaves_the_rest_untried_and_retried(
    services, engine, ad, smtp_server, clock
):
    """Once the server is unreachable the batch stops trying; the emails not handed over
    are marked so (their retry sends at once, without waiting for a relay's report)."""
    case_ids, step_ids, addresses = _invite(engine, ad, 4)
    services.mailer = FailsOn(services.mailer, 2, MailUnavailable("serveur injoignable"))
    run_steps(services, step_ids)
    assert services.mailer.tried == addresses[:2]
    assert _states(engine, case_ids) == ["invited", "sending", "sending", "sending"]
    emails = _emails(engine, case_ids)
    assert [(e.status, e.handed_at) for e in emails[1:]] == [("sending", None)] * 3
    steps = _steps(engine, step_ids)
    assert [s.status for s in steps] == ["done", "pending", "pending", "pending"]
    assert "serveur injoignable" in steps[1].last_error
    assert all("non envoyé" in s.last_error for s in steps[2:])

    services.mailer = make_mailer(smtp_server.url)
    clock.advance(max(s.not_before for s in steps) - clock.now())
    run_steps(services, step_ids[1:])
    assert [len(smtp_server.to(a)) for a in addresses] == [1, 1, 1, 1]
    assert _states(engine, case_ids) == ["invited"] * 4


def test_past_its_deadline_a_batch_hands_back_the_emails_not_tried(
    settings, db, clock, publisher, ad, smtp_server
):
    """A slow server: the steps whose email was not tried before half the run lease go
    back to the queue, their attempt unused, their email not marked handed."""
    engine = Engine(
        db,
        DEFINITIONS,
        clock=clock,
        publisher=publisher,
        timing=StepTiming(run_lease=timedelta(seconds=0.4)),
    )
    real = make_mailer(smtp_server.url)

    class Slow:
        delivered_status = real.delivered_status

        def send(self, message):
            time.sleep(0.3)
            real.send(message)

    services = Services(settings, engine, Slow())
    case_ids, step_ids, addresses = _invite(engine, ad, 3)
    publisher.published.clear()
    run_steps(services, step_ids)
    assert [len(smtp_server.to(a)) for a in addresses] == [1, 0, 0]
    steps = _steps(engine, step_ids)
    assert [(s.status, s.attempts) for s in steps] == [("done", 1), ("pending", 0), ("pending", 0)]
    assert publisher.ids == step_ids[1:]
    assert [e.handed_at for e in _emails(engine, case_ids)[1:]] == [None, None]

    services.mailer = real
    run_steps(services, step_ids[1:])
    assert [len(smtp_server.to(a)) for a in addresses] == [1, 1, 1]
    assert _states(engine, case_ids) == ["invited"] * 3


def test_links_issued_together_to_one_person_leave_only_the_last_usable(engine, ad, clock):
    mandataire = MandataireFactory(coop__ad=ad)
    links = Links("k")
    expires = clock.now() + timedelta(days=30)
    with engine.transaction() as tx:
        earlier = links.issue(
            tx.session,
            purpose="invitation",
            mandataire_id=mandataire.id,
            case_id=None,
            now=tx.now,
            expires_at=expires,
        )
        earlier_id = earlier.id
        issued = links.issue_many(
            tx.session,
            purpose="invitation",
            links=[NewLink(mandataire.id, None, expires), NewLink(mandataire.id, None, expires)],
            now=tx.now,
        )
    with engine.db.read() as s:
        usable = s.scalars(select(Token.id).where(Token.revoked_at.is_(None))).all()
    assert usable == [issued[1].id]
    assert earlier_id not in usable and issued[0].id not in usable
