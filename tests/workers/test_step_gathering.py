"""A kind of step that gathers (its documents rendered in one WeasyPrint pass) takes
along the other steps of its kind that are due when its message carries fewer: steps
queued one by one, as mandataires submit, still share a pass; their own messages then
find them done. Other kinds run alone."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.workers.steps.test_kyc_steps import Services, activated, pending
from workers.providers.swan.sandbox import SandboxSwan
from workers.runner import run_step
from workers.steps.affiliation_documents import NO_FEE
from workflows.engine.engine import Actor
from workflows.models import Case, Document, Step
from workflows.processes.affiliation.form import AffiliationForm, SchoolClass

FEE = {"lines": [], "total_cents": 13699, "federation_share_cents": None}


@pytest.fixture
def services(settings, engine, smtp_server) -> Services:
    swan = SandboxSwan(engine.db, engine.clock, base_url=settings.base_url)
    return Services(settings, engine, smtp_server.url, swan)


def _submitted(engine, ad) -> int:  # type: ignore[no-untyped-def]
    _, person = activated(engine, ad)
    with engine.transaction() as tx:
        case_id = tx.session.scalars(
            select(Case.id).where(Case.coop_id == person.coop_id, Case.process == "affiliation")
        ).one()
        case = tx.lock(case_id)
        form = AffiliationForm([SchoolClass("CP", "M. Aymard", 1, 18)]).to_data()
        case.data = {**case.data, "form": form, "fee": FEE}
        tx.fire(case_id, "submit", actor=Actor.mandataire(person))
    return case_id


def _status(engine, step_id: int) -> str:  # type: ignore[no-untyped-def]
    with engine.db.read() as s:
        return s.get(Step, step_id).status


def test_a_commitment_takes_along_the_others_due(services, engine, ad):
    cases = [_submitted(engine, ad) for _ in range(3)]
    steps = [pending(engine, case_id, "render_commitment") for case_id in cases]
    run_step(services, steps[0])
    assert [_status(engine, s) for s in steps] == ["done"] * 3
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 3
        assert {c.state for c in s.scalars(select(Case).where(Case.id.in_(cases)))} == {
            "awaiting_validation"
        }
    for step_id in steps[1:]:  # their own messages, later: nothing more
        run_step(services, step_id)
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 3


def test_a_kind_that_does_not_gather_runs_alone(services, engine, ad):
    cases = [_submitted(engine, ad) for _ in range(2)]
    with engine.transaction() as tx:
        for case_id in cases:
            case = tx.lock(case_id)
            case.data = {**case.data, "returned_comment": "Corrigez."}
            tx.fire(
                case_id, "send_back", actor=Actor("staff", 1, "Claire"), payload={"comment": "x"}
            )
    first, second = (pending(engine, c, "notify_returned") for c in cases)
    run_step(services, first)
    assert (_status(engine, first), _status(engine, second)) == ("done", "pending")


def test_a_case_without_its_frozen_fee_fails_alone_and_the_others_are_rendered(
    services, engine, ad
):
    cases = [_submitted(engine, ad) for _ in range(3)]
    with engine.transaction() as tx:  # sent without the portal: no fee frozen
        case = tx.lock(cases[1])
        case.data = {k: v for k, v in case.data.items() if k != "fee"}
    steps = [pending(engine, case_id, "render_commitment") for case_id in cases]
    run_step(services, steps[0])
    assert [_status(engine, s) for s in steps] == ["done", "failed", "done"]
    with engine.db.read() as s:
        assert s.get(Step, steps[1]).last_error == NO_FEE
        documents = s.scalars(select(Document.case_id)).all()
    assert sorted(documents) == [cases[0], cases[2]]
