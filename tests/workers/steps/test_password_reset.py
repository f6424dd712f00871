"""The « Mot de passe perdu » step called directly: one email per step however often it
is delivered, and at most one per ten minutes however often it is asked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import MandataireFactory
from tests.helpers import invitation_case, text_body
from tests.workers.steps.test_invitation import Services
from workers.runner import run_step
from workflows.engine.engine import Actor
from workflows.models import Case, CaseEvent, Email, Step, Token
from workflows.password_hashing import hash_password

SYSTEM = Actor.system("test")


@pytest.fixture
def services(settings, engine, smtp_server):
    return Services(settings, engine, smtp_server.url)


@pytest.fixture
def account(engine, ad):
    """An active account: invited, password chosen, logged in once."""
    mandataire = MandataireFactory(coop__ad=ad, password_hash=hash_password("Cooperative*2026"))
    with engine.transaction() as tx:
        case = invitation_case(tx, mandataire, "sent", "set_password", "first_login", actor=SYSTEM)
    return case.id, mandataire


def _request(engine, publisher, case_id: int) -> int:
    with engine.transaction() as tx:
        tx.fire(case_id, "request_reset", actor=SYSTEM)
    return publisher.ids[-1]


def _resets(engine) -> list[Email]:
    with engine.db.read() as s:
        return list(s.scalars(select(Email).where(Email.kind == "password_reset")))


def test_a_step_delivered_twice_sends_one_email(services, account, smtp_server, engine, publisher):
    case_id, mandataire = account
    step_id = _request(engine, publisher, case_id)
    run_step(services, step_id)
    run_step(services, step_id)  # the broker delivered the message again

    [message] = smtp_server.to(mandataire.email)
    assert "nouveau mot de passe" in message["Subject"]
    body = text_body(message)
    assert "Bonjour Éloïse" in body and "/mot-de-passe-perdu/" in body
    assert "valable une heure" in body
    assert len(_resets(engine)) == 1
    with engine.db.read() as s:
        [token] = s.scalars(select(Token).where(Token.purpose == "reset")).all()
        assert token.expires_at - token.created_at == timedelta(hours=1)
        assert token.case_id == case_id and token.mandataire_id == mandataire.id
        case = s.get(Case, case_id)
        assert case.state == "active" and case.stuck_reason is None
        assert s.get(Step, step_id).status == "done"


def test_at_most_one_email_per_ten_minutes(services, account, smtp_server, engine, publisher):
    case_id, mandataire = account
    first = _request(engine, publisher, case_id)
    second = _request(engine, publisher, case_id)
    run_step(services, first)
    run_step(services, second)
    assert len(smtp_server.to(mandataire.email)) == 1
    with engine.db.read() as s:
        assert s.get(Step, second).status == "done"
        assert s.get(Step, second).result == {
            "email_status": "not_sent",
            "reason": "recently_sent",
        }
        asked = s.scalars(
            select(CaseEvent.id).where(
                CaseEvent.case_id == case_id, CaseEvent.trigger == "request_reset"
            )
        ).all()
        assert len(asked) == 2  # both requests are in the history
        assert len(s.scalars(select(Token).where(Token.purpose == "reset")).all()) == 1

    engine.clock.advance(timedelta(minutes=10, seconds=1))
    run_step(services, _request(engine, publisher, case_id))
    assert len(smtp_server.to(mandataire.email)) == 2
    with engine.db.read() as s:
        old, new = s.scalars(select(Token).where(Token.purpose == "reset").order_by(Token.id))
        assert old.revoked_at is not None and new.revoked_at is None
