"""The invitation steps called directly: idempotent, retried, failing into ``stuck``."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.factories import MandataireFactory
from tests.helpers import invitation_case
from workers.providers.mail.errors import MailUnavailable
from workers.runner import run_step
from workflows.engine.engine import Actor
from workflows.models import Case, Email, Step, Token

STAFF = Actor("staff", 1, "Claire Agent")


class Services:
    """The services a step needs, with the SMTP server of the test."""

    def __init__(self, settings, engine, smtp_url):
        from workers.providers.mail import make_mailer
        from workflows.links import Links

        self.settings = settings
        self.engine = engine
        self.mailer = make_mailer(smtp_url)
        self.links = Links(settings.secret_key)


@pytest.fixture
def services(settings, engine, smtp_server):
    return Services(settings, engine, smtp_server.url)


@pytest.fixture
def invited(engine, ad, publisher):
    mandataire = MandataireFactory(coop__ad=ad)
    with engine.transaction() as tx:
        case = invitation_case(tx, mandataire, actor=STAFF)
    return case.id, mandataire.email, publisher.ids[-1]


def test_a_step_delivered_twice_sends_one_email(services, invited, smtp_server, engine):
    case_id, address, step_id = invited
    run_step(services, step_id)
    run_step(services, step_id)  # the broker delivered the message again
    assert len(smtp_server.to(address)) == 1
    with engine.db.read() as s:
        assert s.get(Case, case_id).state == "invited"
        assert s.scalar(select(func.count()).select_from(Email)) == 1
        assert s.scalar(select(func.count()).select_from(Token)) == 1


def test_a_send_interrupted_after_storing_the_message_resends_the_same_one(
    services, invited, smtp_server, engine
):
    """The worker died between writing the email row and the SMTP dialogue: the next
    delivery sends that very message (same link, same Message-ID), not a new one."""
    case_id, address, step_id = invited

    class Dying:
        delivered_status = "sent"

        def send(self, message):
            raise SystemExit("worker killed")

    real = services.mailer
    services.mailer = Dying()
    with pytest.raises(SystemExit):
        run_step(services, step_id)
    services.mailer = real
    with engine.db.write() as s:  # the run's lease ran out
        s.get(Step, step_id).lease_until = engine.clock.now()
    engine.clock.advance(__import__("datetime").timedelta(seconds=1))
    run_step(services, step_id)
    [message] = smtp_server.to(address)
    with engine.db.read() as s:
        email = s.scalars(select(Email)).one()
        assert message["Message-ID"] == email.message_id
        assert s.scalar(select(func.count()).select_from(Token)) == 1
        assert s.get(Case, case_id).state == "invited"


def test_transient_errors_retry_with_backoff_then_the_case_is_stuck(
    services, invited, engine, publisher
):
    case_id, _, step_id = invited

    class Down:
        delivered_status = "sent"

        def send(self, message):
            raise MailUnavailable("serveur de messagerie injoignable : connexion refusée")

    services.mailer = Down()
    delays = []
    for attempt in range(1, 6):
        run_step(services, step_id)
        with engine.db.read() as s:
            step = s.get(Step, step_id)
        assert step.attempts == attempt
        if attempt < 5:
            assert step.status == "pending"
            delays.append(publisher.published[-1][1])
            engine.clock.advance(step.not_before - engine.clock.now())
    assert step.status == "failed"
    assert delays == sorted(delays) and 8_000 <= delays[0] <= 12_000 and delays[-1] <= 600_000
    with engine.db.read() as s:
        case = s.get(Case, case_id)
    assert case.state == "sending"
    assert case.stuck_reason == "step_failed" and case.stuck_action == "retry_step"
    assert "Envoi de l'invitation" in case.stuck_message and "injoignable" in case.stuck_message
