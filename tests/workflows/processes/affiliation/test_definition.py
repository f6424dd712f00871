"""``affiliation`` alone (no worker runs its steps), on both backends, the clock moved
and never slept: the case every active coop gets for the school year, its calendar (the
AD's deadline, reminders 15 and 5 days before, ``overdue`` after), the three items that
validate it, the loop of a correction, the change of mandataire that invites the new
person, and the school year that rolls over by itself on 1 September."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.helpers import active_account
from workflows.engine.definition import MANDATAIRE, STAFF
from workflows.engine.engine import Actor
from workflows.engine.errors import GuardFailed, TransitionNotAllowed
from workflows.engine.scheduling import tick
from workflows.models import AD, Case, CaseEvent, Mandataire, Step, Task, Timer
from workflows.processes.affiliation.definition import DEFINITION, missing_checks
from workflows.processes.affiliation.form import AffiliationForm, Change, SchoolClass

CLAIRE = Actor("staff", 1, "Claire Agent")
SEED_FORM = AffiliationForm(
    [SchoolClass("CE1", "Mme Detruc", 2, 23), SchoolClass("CE2", "M. Chose", 1, 22)]
)
FEE = {"lines": [], "total_cents": 13699, "federation_share_cents": None}


def _case(engine, coop_id: int, year: int | None = None) -> Case:  # type: ignore[no-untyped-def]
    with engine.db.read() as s:
        query = select(Case).where(Case.coop_id == coop_id, Case.process == "affiliation")
        if year is not None:
            query = query.where(Case.school_year == year)
        case = s.scalars(query.order_by(Case.id.desc()).limit(1)).one()
        s.expunge(case)
        return case


def _fire(engine, case_id: int, trigger: str, actor: Actor, data=None, **payload) -> Case:  # type: ignore[no-untyped-def]
    with engine.transaction() as tx:
        if data is not None:
            case = tx.lock(case_id)
            case.data = {**(case.data or {}), **data}
        tx.fire(case_id, trigger, actor=actor, payload=payload)
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        s.expunge(case)
        return case


def _timers(engine, case_id: int) -> dict[str, datetime]:  # type: ignore[no-untyped-def]
    with engine.db.read() as s:
        rows = s.execute(
            select(Timer.name, Timer.due_at).where(
                Timer.case_id == case_id, Timer.closed_at.is_(None)
            )
        ).all()
        return {name: due for name, due in rows}


def _submitted(engine, ad, form: AffiliationForm = SEED_FORM) -> tuple[Case, Mandataire]:  # type: ignore[no-untyped-def]
    person = active_account(engine, ad)
    case = _case(engine, person.coop_id)
    me = Actor.mandataire(person)
    _fire(engine, case.id, "submit", me, data={"form": form.to_data(), "fee": FEE})
    return _fire(engine, case.id, "to_validation", Actor.system("rendu")), person


def test_the_definition_reads_as_processes_md_says() -> None:
    assert DEFINITION.initial == "draft" and DEFINITION.yearly
    [prerequisite] = DEFINITION.prerequisites
    assert (prerequisite.process, prerequisite.states) == ("invitation", ("active",))
    assert {s.name for s in DEFINITION.states} >= {
        "draft",
        "submitted",
        "awaiting_validation",
        "returned",
        "validated",
        "overdue",
    }
    assert [t.trigger for t in DEFINITION.triggers_from("draft", MANDATAIRE)] == ["save", "submit"]
    assert {t.trigger for t in DEFINITION.triggers_from("awaiting_validation", STAFF)} == {
        "check_payment",
        "check_commitment",
        "check_change_form",
        "validate",
        "send_back",
    }
    overdue = DEFINITION.state_by_name["overdue"].stuck
    assert overdue is not None and overdue.action == "extend"
    assert "empêchée dans son fonctionnement" in DEFINITION.portal_label("overdue")


def test_an_active_coop_gets_this_years_case_with_the_ads_calendar(engine, ad):
    """T0 is 7 September 2026: deadline 30 September, reminders on the 15th and 25th
    at 9:00 in Paris (7:00 UTC), overdue at midnight after the 30th in Paris."""
    person = active_account(engine, ad)
    case = _case(engine, person.coop_id)
    assert (case.state, case.school_year) == ("draft", 2026)
    assert _timers(engine, case.id) == {
        "reminder_15": datetime(2026, 9, 15, 7, 0, tzinfo=UTC),
        "reminder_5": datetime(2026, 9, 25, 7, 0, tzinfo=UTC),
        "deadline": datetime(2026, 9, 30, 22, 0, tzinfo=UTC),
    }


def test_reminders_then_overdue_stuck_with_its_action(engine, clock, ad):
    person = active_account(engine, ad)
    case = _case(engine, person.coop_id)
    clock.advance(datetime(2026, 9, 15, 7, 1, tzinfo=UTC) - clock.now())
    tick(engine)
    clock.advance(datetime(2026, 9, 25, 7, 1, tzinfo=UTC) - clock.now())
    tick(engine)
    with engine.db.read() as s:
        reminders = s.scalars(
            select(Step.id).where(Step.case_id == case.id, Step.name == "send_reminder")
        ).all()
    assert len(reminders) == 2
    clock.advance(datetime(2026, 9, 30, 21, 59, tzinfo=UTC) - clock.now())
    tick(engine)
    assert _case(engine, person.coop_id).state == "draft"  # the 30th in Paris still
    clock.advance(timedelta(minutes=2))
    tick(engine)
    late = _case(engine, person.coop_id)
    assert (late.state, late.stuck_reason) == ("overdue", "affiliation_overdue")
    # Staff grant a new date: the reminders and the deadline are counted from it.
    granted = _fire(engine, case.id, "extend", CLAIRE, data={"deadline": "2026-10-20"})
    assert (granted.state, granted.stuck_reason) == ("draft", None)
    assert _timers(engine, case.id) == {
        "reminder_15": datetime(2026, 10, 5, 7, 0, tzinfo=UTC),
        "reminder_5": datetime(2026, 10, 15, 7, 0, tzinfo=UTC),
        "deadline": datetime(2026, 10, 20, 22, 0, tzinfo=UTC),
    }


def test_a_coop_active_after_the_deadline_has_thirty_days(engine, clock, ad):
    clock.advance(datetime(2026, 11, 14, 10, 0, tzinfo=UTC) - clock.now())
    person = active_account(engine, ad)
    case = _case(engine, person.coop_id)
    assert _timers(engine, case.id)["deadline"] == datetime(2026, 12, 14, 23, 0, tzinfo=UTC)


def test_an_ad_sets_its_own_deadline(engine, ad):
    with engine.transaction() as tx:
        found = tx.session.get(AD, ad.id)
        assert found is not None
        found.affiliation_deadline_month, found.affiliation_deadline_day = 10, 15
    person = active_account(engine, ad)
    assert _timers(engine, _case(engine, person.coop_id).id)["deadline"] == datetime(
        2026, 10, 15, 22, 0, tzinfo=UTC
    )


def test_submission_needs_a_class_and_a_fee(engine, ad):
    person = active_account(engine, ad)
    case = _case(engine, person.coop_id)
    me = Actor.mandataire(person)
    with pytest.raises(GuardFailed, match="au moins une classe"):
        _fire(engine, case.id, "submit", me)
    with pytest.raises(GuardFailed, match="montant"):
        _fire(engine, case.id, "submit", me, data={"form": SEED_FORM.to_data()})
    # A refused submission wrote nothing: the form comes again with its fee.
    assert "form" not in _case(engine, person.coop_id).data
    submitted = _fire(engine, case.id, "submit", me, data={"form": SEED_FORM.to_data(), "fee": FEE})
    assert submitted.state == "submitted"
    with engine.db.read() as s:
        assert (
            "render_commitment" in s.scalars(select(Step.name).where(Step.case_id == case.id)).all()
        )


def test_the_three_items_each_by_a_named_staff_member(engine, ad):
    case, _ = _submitted(
        engine,
        ad,
        AffiliationForm(SEED_FORM.classes, change=Change(signatories=True, details="Mme X")),
    )
    with engine.db.read() as s:
        assert s.scalars(select(Task.kind).where(Task.case_id == case.id)).all() == [
            "affiliation_validation"
        ]
    assert missing_checks(case.data) == ["payment", "commitment", "change_form"]
    with pytest.raises(GuardFailed, match="pas toutes validées"):
        _fire(engine, case.id, "validate", CLAIRE)
    checks = {"payment": {"by": "Claire Agent", "amount_cents": 13699}}
    _fire(engine, case.id, "check_payment", CLAIRE, data={"checks": checks}, amount_cents=13699)
    checks["commitment"] = {"by": "Claire Agent"}
    half = _fire(engine, case.id, "check_commitment", CLAIRE, data={"checks": checks})
    assert half.state == "awaiting_validation" and missing_checks(half.data) == ["change_form"]
    checks["change_form"] = {"by": "Claire Agent"}
    _fire(engine, case.id, "check_change_form", CLAIRE, data={"checks": checks})
    done = _fire(engine, case.id, "validate", CLAIRE)
    assert done.state == "validated"
    with engine.db.read() as s:
        events = s.execute(
            select(CaseEvent.trigger, CaseEvent.actor).where(
                CaseEvent.case_id == case.id, CaseEvent.trigger.like("check_%")
            )
        ).all()
        steps = s.scalars(select(Step.name).where(Step.case_id == case.id)).all()
    assert [t for t, _ in events] == ["check_payment", "check_commitment", "check_change_form"]
    assert {a for _, a in events} == {"staff:1 Claire Agent"}
    assert {"render_attestations", "notify_validated"} <= set(steps)


def test_sent_back_with_a_comment_then_submitted_again(engine, ad):
    case, person = _submitted(engine, ad)
    with pytest.raises(GuardFailed, match="commentaire est vide"):
        _fire(engine, case.id, "send_back", CLAIRE, comment=" ")
    back = _fire(
        engine,
        case.id,
        "send_back",
        CLAIRE,
        data={"returned_comment": "24 élèves en CE1"},
        comment="24 élèves en CE1",
    )
    assert back.state == "returned"
    again = _fire(engine, case.id, "submit", Actor.mandataire(person))
    assert again.state == "submitted"
    with pytest.raises(TransitionNotAllowed):
        _fire(engine, case.id, "save", Actor.mandataire(person))


def test_a_validated_change_of_mandataire_invites_the_new_person(engine, ad):
    change = Change(
        mandataire=True, first_name="Inès", last_name="Moreau", email="ines.moreau@ac-nice.fr"
    )
    case, person = _submitted(engine, ad, AffiliationForm(SEED_FORM.classes, change=change))
    checks = {i: {"by": "Claire Agent"} for i in ("payment", "commitment", "change_form")}
    _fire(engine, case.id, "check_change_form", CLAIRE, data={"checks": checks})
    _fire(engine, case.id, "validate", CLAIRE)
    with engine.db.read() as s:
        new = s.scalars(
            select(Mandataire).where(Mandataire.email == "ines.moreau@ac-nice.fr")
        ).one()
        invitation = s.scalars(
            select(Case).where(
                Case.process == "invitation", Case.data["mandataire_id"].as_integer() == new.id
            )
        ).one()
        effect = s.scalars(
            select(CaseEvent.comment).where(
                CaseEvent.case_id == case.id, CaseEvent.kind == "effect"
            )
        ).one()
    assert new.coop_id == person.coop_id and invitation.coop_id == person.coop_id
    assert invitation.state == "sending"
    assert f"Nouveau dossier {invitation.id}" in (effect or "")


def test_a_change_to_an_address_already_taken_is_recorded_not_invited(engine, ad):
    other = active_account(engine, ad)
    change = Change(mandataire=True, first_name="A", last_name="B", email=other.email.upper())
    case, _ = _submitted(engine, ad, AffiliationForm(SEED_FORM.classes, change=change))
    checks = {i: {"by": "Claire Agent"} for i in ("payment", "commitment", "change_form")}
    _fire(engine, case.id, "check_change_form", CLAIRE, data={"checks": checks})
    assert _fire(engine, case.id, "validate", CLAIRE).state == "validated"
    with engine.db.read() as s:
        comment = s.scalars(
            select(CaseEvent.comment).where(
                CaseEvent.case_id == case.id, CaseEvent.kind == "effect"
            )
        ).one()
    assert "déjà celle d'un autre compte" in (comment or "")


def test_the_school_year_rolls_over_on_1_september_in_paris(engine, clock, ad):
    person = active_account(engine, ad)
    first = _case(engine, person.coop_id)
    clock.advance(datetime(2027, 8, 31, 21, 59, tzinfo=UTC) - clock.now())
    tick(engine)
    assert _case(engine, person.coop_id).id == first.id  # still 31 August in Paris
    clock.advance(timedelta(minutes=2))  # 1 September 2027, 00:01 in Paris
    tick(engine)
    new = _case(engine, person.coop_id)
    assert (new.school_year, new.state) == (2027, "draft") and new.id != first.id
    assert _timers(engine, new.id)["deadline"] == datetime(2027, 9, 30, 22, 0, tzinfo=UTC)
    with engine.db.read() as s:
        assert "open_year" in s.scalars(select(Step.name).where(Step.case_id == new.id)).all()
    tick(engine)  # the sweep again: still one case for the year
    with engine.db.read() as s:
        years = s.scalars(
            select(Case.school_year).where(
                Case.coop_id == person.coop_id, Case.process == "affiliation"
            )
        ).all()
    assert sorted(years) == [2026, 2027]
    assert date(2027, 9, 1).year == new.school_year
