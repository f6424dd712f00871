"""``iban`` alone (no worker runs its steps): it starts with the account, goes where
the RIB's checks send it, opens the review task and the mismatch report, and becomes
stuck for the reasons PROCESSES.md gives, each with its sentence and its action."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.helpers import active_account, case_of
from workflows.engine.definition import MANDATAIRE, STAFF
from workflows.engine.engine import Actor
from workflows.engine.errors import GuardFailed, TransitionNotAllowed
from workflows.engine.scheduling import tick
from workflows.models import Case, Step, Task
from workflows.processes.iban.definition import DEFINITION

SYSTEM = Actor.system("contrôles du RIB")
CLAIRE = Actor("staff", 1, "Claire Agent")


def _fire(engine, case_id: int, trigger: str, actor: Actor = SYSTEM, **payload) -> Case:  # type: ignore[no-untyped-def]
    with engine.transaction() as tx:
        tx.fire(case_id, trigger, actor=actor, payload=payload)
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def _steps(engine, case_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.db.read() as s:
        return list(s.scalars(select(Step.name).where(Step.case_id == case_id).order_by(Step.id)))


def _iban(engine, ad) -> tuple[Case, Actor]:  # type: ignore[no-untyped-def]
    mandataire = active_account(engine, ad)
    return case_of(engine, mandataire.coop_id, "iban"), Actor.mandataire(mandataire)


def test_the_definition_reads_as_processes_md_says() -> None:
    assert DEFINITION.initial == "awaiting_rib"
    [prerequisite] = DEFINITION.prerequisites
    assert (prerequisite.process, prerequisite.states) == ("invitation", ("active",))
    assert [t.trigger for t in DEFINITION.triggers_from("awaiting_rib", MANDATAIRE)] == [
        "submit_rib"
    ]
    assert [t.trigger for t in DEFINITION.triggers_from("needs_review", STAFF)] == [
        "approve",
        "refuse",
        "ask_new_rib",
    ]
    assert {s.name for s in DEFINITION.states if s.final} == {"certified"}
    assert DEFINITION.task_overdue.action == "review_rib"


def test_a_good_rib_is_checked_then_certified(engine, ad):
    case, me = _iban(engine, ad)
    assert case.state == "awaiting_rib"
    checking = _fire(engine, case.id, "submit_rib", actor=me, bank_account_id=1)
    assert checking.state == "checking"
    assert _steps(engine, case.id)[-1] == "check_rib"
    assert _fire(engine, case.id, "accept").state == "verified"
    assert _steps(engine, case.id)[-1] == "certify_account"
    certified = _fire(engine, case.id, "certified")
    assert certified.state == "certified" and certified.stuck_reason is None
    assert _steps(engine, case.id)[-1] == "notify_certified"


def test_a_refused_rib_waits_for_a_new_one_and_reminds_after_three_days(engine, clock, ad):
    case, me = _iban(engine, ad)
    _fire(engine, case.id, "submit_rib", actor=me, bank_account_id=1)
    rejected = _fire(engine, case.id, "reject", errors={"rib_date": "Ce RIB a plus de 12 mois"})
    assert rejected.state == "rejected" and rejected.stuck_reason is None
    assert _steps(engine, case.id)[-1] == "notify_rejected"
    clock.advance(timedelta(days=3, minutes=1))
    tick(engine)
    assert _steps(engine, case.id)[-1] == "send_reminder"
    assert _fire(engine, case.id, "submit_rib", actor=me, bank_account_id=2).state == "checking"


def test_a_doubtful_rib_opens_the_review_task_late_it_recommends_the_review(engine, clock, ad):
    case, me = _iban(engine, ad)
    _fire(engine, case.id, "submit_rib", actor=me, bank_account_id=1)
    review = ["Titulaire non reconnu : « M. Dupont »."]
    assert _fire(engine, case.id, "to_review", review=review).state == "needs_review"
    with engine.db.read() as s:
        task = s.scalars(select(Task).where(Task.case_id == case.id)).one()
    assert task.title == "Vérifier le RIB déposé" and task.status == "open"
    with pytest.raises(TransitionNotAllowed), engine.transaction() as tx:
        tx.fire(case.id, "approve", actor=me)  # the mandataire cannot approve their own

    clock.advance(timedelta(days=2, minutes=1))
    tick(engine)
    with engine.db.read() as s:
        late = s.get(Case, case.id)
    assert late is not None and late.stuck_reason == "iban_review_overdue"
    assert late.stuck_action == "review_rib"
    assert late.stuck_message is not None and late.stuck_message.startswith(
        "Le RIB déposé attend d'être vérifié"
    )
    approved = _fire(engine, case.id, "approve", actor=CLAIRE)
    assert approved.state == "verified" and approved.stuck_reason is None
    with engine.db.read() as s:
        assert s.get(Task, task.id).status == "done"


def test_the_mandataire_reports_the_account_is_not_theirs_staff_resolve_it(engine, ad):
    case, me = _iban(engine, ad)
    for trigger in ("submit_rib", "accept", "certified"):
        _fire(engine, case.id, trigger, actor=me if trigger == "submit_rib" else SYSTEM)
    with pytest.raises(GuardFailed, match="votre message est vide"), engine.transaction() as tx:
        tx.fire(case.id, "report_mismatch", actor=me, payload={"message": "  "})
    with pytest.raises(GuardFailed, match="trop long"), engine.transaction() as tx:
        tx.fire(case.id, "report_mismatch", actor=me, payload={"message": "x" * 2001})

    message = "Ce n'est pas notre banque : nous sommes au Crédit Mutuel."
    reported = _fire(engine, case.id, "report_mismatch", actor=me, message=message)
    assert (reported.state, reported.stuck_reason, reported.stuck_action) == (
        "mismatch_reported",
        "iban_mismatch",
        "resolve_mismatch",
    )
    assert reported.stuck_message is not None and reported.stuck_message.endswith(message)
    confirmed = _fire(engine, case.id, "confirm_account", actor=CLAIRE)
    assert confirmed.state == "certified" and confirmed.stuck_reason is None

    _fire(engine, case.id, "report_mismatch", actor=me, message=message)
    again = _fire(engine, case.id, "ask_new_rib", actor=CLAIRE)
    assert again.state == "awaiting_rib" and again.stuck_reason is None
    assert _steps(engine, case.id)[-1] == "notify_mandataire"  # told a new RIB is awaited


def test_reminders_at_seven_and_fourteen_days_stuck_after_thirty(engine, clock, ad):
    case, _ = _iban(engine, ad)
    clock.advance(timedelta(days=7, minutes=1))
    tick(engine)
    clock.advance(timedelta(days=7))
    tick(engine)
    assert _steps(engine, case.id).count("send_reminder") == 2
    clock.advance(timedelta(days=16))
    tick(engine)
    with engine.db.read() as s:
        late = s.get(Case, case.id)
    assert late is not None and (late.stuck_reason, late.stuck_action) == (
        "iban_no_rib",
        "relaunch",
    )
    relaunched = _fire(engine, case.id, "relaunch", actor=CLAIRE)
    assert relaunched.state == "awaiting_rib" and relaunched.stuck_reason is None
    assert _steps(engine, case.id).count("send_reminder") == 3
