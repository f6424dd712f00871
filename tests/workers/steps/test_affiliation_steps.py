"""The affiliation's steps called directly, on both backends: a new school year carries
last year's validated classes over and closes last year's unfinished case (once, however
often it runs), and the emails say the deadline, the staff's comment, the fee."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.workers.steps.test_kyc_steps import Services, activated, case_row, emails, run
from workers.providers.swan.sandbox import SandboxSwan
from workflows.engine.engine import Actor
from workflows.engine.scheduling import tick
from workflows.models import Case
from workflows.processes.affiliation.form import AffiliationForm, SchoolClass, form_of

CLASSES = [
    SchoolClass("CE1", "Mme Detruc - Mlle Machin", 2, 23),
    SchoolClass("CP", "M. Aymard", 1, 18),
]
FEE = {"lines": [], "total_cents": 13699, "federation_share_cents": None}
SEPTEMBER_2027 = datetime(2027, 9, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def services(settings, engine, smtp_server) -> Services:
    swan = SandboxSwan(engine.db, engine.clock, base_url=settings.base_url)
    return Services(settings, engine, smtp_server.url, swan)


def _case_id(engine, coop_id: int, year: int) -> int:  # type: ignore[no-untyped-def]
    with engine.db.read() as s:
        return s.scalars(
            select(Case.id).where(
                Case.coop_id == coop_id, Case.process == "affiliation", Case.school_year == year
            )
        ).one()


def _validated(engine, case_id: int, person) -> None:  # type: ignore[no-untyped-def]
    staff = Actor("staff", 1, "Claire Agent")
    with engine.transaction() as tx:
        case = tx.lock(case_id)
        checks = {"payment": {"by": "Claire"}, "commitment": {"by": "Claire"}}
        form = AffiliationForm(CLASSES, options=["abonnement_toto"]).to_data()
        case.data = {**case.data, "form": form, "fee": FEE, "checks": checks}
        tx.fire(case_id, "submit", actor=Actor.mandataire(person))
        tx.fire(case_id, "to_validation", actor=Actor.system("rendu"))
        tx.fire(case_id, "validate", actor=staff)


def test_a_new_year_carries_last_years_classes_over(services, engine, clock, ad):
    _, person = activated(engine, ad)
    first = _case_id(engine, person.coop_id, 2026)
    run(services, first, "open_year")
    assert "form" not in case_row(engine, first).data  # nothing to carry the first year
    _validated(engine, first, person)
    clock.advance(SEPTEMBER_2027 - clock.now())
    tick(engine)
    new = _case_id(engine, person.coop_id, 2027)
    run(services, new, "open_year", times=2)
    data = case_row(engine, new).data
    carried = form_of(data)
    assert [c.name for c in carried.classes] == ["CE1", "CP"]
    assert carried.pupils == 41 and carried.teachers == 3
    assert carried.options == []  # options are chosen again each year
    assert data["carried_from"] == first
    assert case_row(engine, first).state == "validated"


def test_a_new_year_closes_last_years_unfinished_case(services, engine, clock, ad):
    _, person = activated(engine, ad)
    first = _case_id(engine, person.coop_id, 2026)
    clock.advance(datetime(2026, 10, 2, tzinfo=UTC) - clock.now())
    tick(engine)
    assert case_row(engine, first).state == "overdue"
    clock.advance(SEPTEMBER_2027 - clock.now())
    tick(engine)
    new = _case_id(engine, person.coop_id, 2027)
    run(services, new, "open_year", times=2)
    old = case_row(engine, first)
    assert (old.state, old.stuck_reason) == ("closed", None)
    assert "form" not in case_row(engine, new).data


def test_the_reminder_says_the_deadline_and_the_late_one_the_consequence(
    services, engine, clock, ad
):
    _, person = activated(engine, ad)
    case_id = _case_id(engine, person.coop_id, 2026)
    clock.advance(datetime(2026, 9, 15, 7, 1, tzinfo=UTC) - clock.now())
    tick(engine)
    run(services, case_id, "send_reminder", times=2)
    [email] = emails(engine, case_id)
    assert email.to_address == person.email
    assert "Adhésion 2026-2027" in email.subject
    assert "avant le 30/09/2026" in email.text_body
    clock.advance(datetime(2026, 10, 1, 8, 0, tzinfo=UTC) - clock.now())
    tick(engine)
    with engine.transaction() as tx:
        tx.fire(case_id, "remind", actor=Actor("staff", 1, "Claire Agent"))
    run(services, case_id, "send_reminder")
    late = emails(engine, case_id)[-1]
    assert "empêchée dans son fonctionnement" in late.text_body


def test_the_returned_email_carries_the_staffs_comment(services, engine, ad):
    _, person = activated(engine, ad)
    case_id = _case_id(engine, person.coop_id, 2026)
    with engine.transaction() as tx:
        case = tx.lock(case_id)
        case.data = {**case.data, "form": AffiliationForm(CLASSES).to_data(), "fee": FEE}
        tx.fire(case_id, "submit", actor=Actor.mandataire(person))
        case.data = {**case.data, "returned_comment": "Le CE1 compte 24 élèves."}
        tx.fire(case_id, "send_back", actor=Actor("staff", 1, "Claire"), payload={"comment": "x"})
    run(services, case_id, "notify_returned", times=2)
    [email] = emails(engine, case_id)
    assert "Le CE1 compte 24 élèves." in email.text_body
    assert "correction" in email.subject
