"""Bulk actions on a real database: each case decided again when its turn comes, a
report per case, nothing outside the selection touched, each case acted on once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.helpers import invitation_case
from workflows.engine import bulk, bulk_actions, bulk_report, steps
from workflows.engine.engine import Actor
from workflows.engine.errors import SelectionRefused, ValidationError
from workflows.formatting import datetime_fr
from workflows.models import (
    BulkItem,
    BulkJob,
    Case,
    CaseEvent,
    StaffRole,
    Step,
    StepStatus,
)

SYSTEM = Actor.system("test")


@pytest.fixture
def ad50(factory_session):
    return factories.ADFactory(code="AD50", academic_domains=["ac-caen.fr"])


@pytest.fixture
def claire(ad):
    return factories.StaffFactory(ad=ad, full_name="Claire Agent")


@pytest.fixture
def make_case(engine, ad):
    """An invitation case of ``of`` (AD06 by default) in ``state``."""

    def make(state: str = "expired", of=None) -> int:
        mandataire = factories.MandataireFactory(coop__ad=of or ad)
        invited = () if state == "created" else ("invite",)
        with engine.transaction() as tx:
            case = invitation_case(tx, mandataire, *invited, actor=SYSTEM, trigger=None)
        if state in ("expired", "invited"):
            with engine.transaction() as tx:
                tx.fire(case.id, "sent", actor=SYSTEM)
                if state == "expired":
                    tx.fire(case.id, "expire", actor=SYSTEM)
        elif state == "cancelled":
            with engine.transaction() as tx:
                tx.fire(case.id, "cancel", actor=Actor("staff", 0, "Autre"))
        elif state == "failed":
            with engine.db.read() as s:
                step_id = s.scalars(select(Step.id).where(Step.case_id == case.id)).one()
            claimed = steps.claim(engine, step_id)
            assert claimed is not None
            steps.fail(engine, claimed, "SMTP injoignable", "", permanent=True)
        return case.id

    return make


def _start(engine, staff, case_ids, action="fire", params=None, comment="Relance de rentrée"):
    """Create and confirm a job; returns its id."""
    params = {"trigger": "resend"} if params is None and action == "fire" else params or {}
    with engine.transaction() as tx:
        job = bulk.create(
            tx,
            staff_id=staff.id,
            action=action,
            params=params,
            case_ids=case_ids,
            comment=comment,
            description=f"{len(case_ids)} dossiers cochés",
        )
        job_id = job.id
    with engine.transaction() as tx:
        bulk.confirm(tx, job_id, staff.id)
    return job_id


def _run(engine, job_id) -> bulk.Progress:
    while not (progress := bulk.process(engine, job_id, batch=2)).finished:
        pass
    return progress


def _items(engine, job_id) -> dict[int, tuple[str, str]]:
    with engine.db.read() as s:
        rows = s.scalars(select(BulkItem).where(BulkItem.job_id == job_id))
        return {i.case_id: (i.status, i.message) for i in rows}


def _case(engine, case_id) -> Case:
    with engine.db.read() as s:
        return s.get(Case, case_id)


def _events(engine, case_id, **where) -> list[CaseEvent]:
    with engine.db.read() as s:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        return list(s.scalars(query.filter_by(**where)))


def test_a_bulk_resend_acts_where_it_can_and_says_why_not_elsewhere(
    engine, publisher, claire, make_case
):
    expired = [make_case("expired") for _ in range(3)]
    created, cancelled = make_case("created"), make_case("cancelled")
    untouched = make_case("expired")  # not selected
    job_id = _start(engine, claire, [*expired, created, cancelled])
    published_before = len(publisher.ids)

    progress = _run(engine, job_id)

    assert (progress.total, progress.done, progress.skipped) == (5, 3, 2)
    report = _items(engine, job_id)
    for case_id in expired:
        assert report[case_id] == (
            "done",
            "Renvoyer l'invitation : Lien expiré → Envoi de l'invitation en cours",
        )
        assert _case(engine, case_id).state == "sending"
        [event] = _events(engine, case_id, trigger="resend")
        assert event.actor == f"staff:{claire.id} Claire Agent"
        assert event.comment == f"Relance de rentrée (action groupée n° {job_id})"
    assert report[created] == (
        "skipped",
        "Action « Renvoyer l'invitation » impossible : le dossier est à l'état "
        "« Importée, invitation non envoyée ».",
    )
    assert report[cancelled][0] == "skipped" and "« Annulée »" in report[cancelled][1]
    assert _case(engine, untouched).state == "expired"
    assert _events(engine, untouched, trigger="resend") == []
    assert len(publisher.ids) == published_before + 3  # one send step per resent case
    with engine.db.read() as s:
        job = s.get(BulkJob, job_id)
        assert job.status == "done" and job.finished_at is not None and job.lease_until is None


def test_a_draft_is_never_processed(engine, claire, make_case):
    case_id = make_case("expired")
    with engine.transaction() as tx:
        job = bulk.create(
            tx,
            staff_id=claire.id,
            action="fire",
            params={"trigger": "resend"},
            case_ids=[case_id],
            comment="essai",
            description="1 dossier coché",
        )
    progress = bulk.process(engine, job.id)
    assert progress.status == "draft" and progress.processed == 0
    assert _case(engine, case_id).state == "expired"
    assert bulk.claim(engine, job.id) is False
    assert bulk.recover(engine) == 0


def test_a_case_changed_since_the_selection_is_skipped(engine, clock, claire, make_case):
    changed, calm = make_case("invited"), make_case("invited")
    job_id = _start(engine, claire, [changed, calm], params={"trigger": "cancel"})
    # Meanwhile the reminder timer fires on one of them: same state, a new version.
    clock.advance(timedelta(days=3, minutes=1))
    with engine.transaction() as tx:
        tx.fire(changed, "remind", actor=SYSTEM)

    _run(engine, job_id)

    report = _items(engine, job_id)
    assert report[changed] == (
        "skipped",
        "le dossier a changé depuis la sélection (état actuel : Invitation envoyée, "
        "en attente du mot de passe)",
    )
    assert _case(engine, changed).state == "invited"
    assert report[calm][0] == "done" and _case(engine, calm).state == "cancelled"


def test_a_case_outside_the_scope_refuses_the_whole_selection(engine, claire, make_case, ad50):
    mine, theirs = make_case("expired"), make_case("expired", of=ad50)
    for selection in ([mine, theirs], [mine, 987654]):
        with pytest.raises(SelectionRefused, match="hors de votre périmètre"):
            _start(engine, claire, selection)
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(BulkJob)) == 0
        assert s.scalar(select(func.count()).select_from(BulkItem)) == 0
    assert _case(engine, theirs).state == "expired"


@pytest.mark.parametrize(
    ("action", "params", "comment", "error"),
    [
        ("fire", {"trigger": "resend"}, "   ", "Indiquez un commentaire"),
        ("fire", {"trigger": "set_password"}, "essai", "Action inconnue : « set_password »"),
        ("fire", {"trigger": "sent"}, "essai", "Action inconnue : « sent »"),
        ("delete", {}, "essai", "Action inconnue : « delete »"),
        ("assign", {"assignee_id": 987654}, "essai", "Choisissez un membre de l'équipe"),
    ],
)
def test_a_bad_request_writes_nothing(engine, claire, make_case, action, params, comment, error):
    case_id = make_case("expired")
    with pytest.raises(ValidationError, match=error):
        _start(engine, claire, [case_id], action=action, params=params, comment=comment)
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(BulkJob)) == 0


def test_read_only_staff_cannot_start_a_job(engine, ad, make_case):
    reader = factories.StaffFactory(ad=ad, role=StaffRole.READONLY.value)
    with pytest.raises(SelectionRefused, match="ne permet pas d'agir"):
        _start(engine, reader, [make_case("expired")])


def test_staff_who_lost_the_scope_since_the_confirmation_act_on_nothing(
    engine, factory_session, claire, make_case, ad50
):
    case_id = make_case("expired")
    job_id = _start(engine, claire, [case_id])
    with engine.db.write() as s:
        s.get(type(claire), claire.id).ad_id = ad50.id  # moved to another AD
    _run(engine, job_id)
    assert _items(engine, job_id)[case_id] == (
        "skipped",
        "le dossier n'est plus dans votre périmètre",
    )
    assert _case(engine, case_id).state == "expired"


def test_each_case_is_acted_on_once_when_two_runs_race(engine, claire, make_case):
    cases = [make_case("expired") for _ in range(12)]
    job_id = _start(engine, claire, cases)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            bulk.process(engine, job_id, batch=100)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    for case_id in cases:
        assert len(_events(engine, case_id, trigger="resend")) == 1
    with engine.db.read() as s:
        job = s.get(BulkJob, job_id)
        assert (job.status, job.done_count, job.skipped_count) == ("done", 12, 0)


class Crash(BaseException):
    """The worker process dies (killed, out of memory) in the middle of an item."""


def test_an_interrupted_run_loses_nothing_and_does_nothing_twice(
    engine, claire, make_case, monkeypatch
):
    cases = [make_case("expired") for _ in range(4)]
    job_id = _start(engine, claire, cases)
    fire = bulk_actions.ACT["fire"]
    calls = []

    def dies_on_the_third(*args):
        calls.append(args)
        if len(calls) == 3:
            raise Crash
        return fire(*args)

    monkeypatch.setitem(bulk_actions.ACT, "fire", dies_on_the_third)
    with pytest.raises(Crash):
        bulk.process(engine, job_id)
    report = _items(engine, job_id)
    assert [report[c][0] for c in cases] == ["done", "done", "pending", "pending"]
    assert _case(engine, cases[2]).state == "expired"  # its transaction rolled back

    monkeypatch.setitem(bulk_actions.ACT, "fire", fire)
    assert bulk.process(engine, job_id).finished
    for case_id in cases:
        assert len(_events(engine, case_id, trigger="resend")) == 1
    with engine.db.read() as s:
        assert s.get(BulkJob, job_id).done_count == 4


def test_assign_to_staff_who_can_see_each_case(engine, ad, ad50, make_case):
    national = factories.StaffFactory(role=StaffRole.NATIONAL.value, ad=None, full_name="Nadia")
    marc = factories.StaffFactory(ad=ad50, full_name="Marc Manche")
    theirs, mine = make_case("expired", of=ad50), make_case("expired")
    job_id = _start(
        engine, national, [theirs, mine], action="assign", params={"assignee_id": marc.id}
    )
    _run(engine, job_id)
    report = _items(engine, job_id)
    assert report[theirs] == ("done", "assigné à Marc Manche")
    assert report[mine] == ("skipped", "Marc Manche ne peut pas traiter les dossiers de AD06")
    assert _case(engine, theirs).assignee_id == marc.id
    assert _case(engine, mine).assignee_id is None
    [event] = _events(engine, theirs, kind="assign")
    assert event.actor == f"staff:{national.id} Nadia"
    assert (
        event.comment == f"Assigné à Marc Manche. Relance de rentrée (action groupée n° {job_id})"
    )

    again = _start(engine, national, [theirs], action="assign", params={"assignee_id": marc.id})
    _run(engine, again)
    assert _items(engine, again)[theirs] == ("skipped", "le dossier est déjà assigné à Marc Manche")
    nobody = _start(engine, national, [theirs], action="assign", params={"assignee_id": None})
    _run(engine, nobody)
    assert _items(engine, nobody)[theirs] == ("done", "assigné à personne")
    assert _case(engine, theirs).assignee_id is None


def test_retry_the_failed_step_of_each_case(engine, publisher, claire, make_case):
    failed, fine = make_case("failed"), make_case("expired")
    assert _case(engine, failed).stuck_reason == "step_failed"
    job_id = _start(engine, claire, [failed, fine], action="retry_step", params={})
    _run(engine, job_id)
    report = _items(engine, job_id)
    assert report[failed] == ("done", "étape « Envoi de l'invitation » relancée")
    assert report[fine] == (
        "skipped",
        "aucune étape en échec à relancer (état actuel : Lien expiré)",
    )
    with engine.db.read() as s:
        step = s.scalars(select(Step).where(Step.case_id == failed)).one()
        assert (step.status, step.attempts) == (StepStatus.PENDING.value, 0)
        assert s.get(Case, failed).stuck_reason is None
    assert publisher.ids[-1] == step.id
    [event] = _events(engine, failed, kind="retry")
    assert event.actor == f"staff:{claire.id} Claire Agent"


def test_a_worker_owns_a_job_until_its_lease_runs_out(engine, clock, claire, make_case):
    job_id = _start(engine, claire, [make_case("expired")])
    assert bulk.recover(engine) == 0  # just published: its lease runs
    assert bulk.claim(engine, job_id) is True
    assert bulk.claim(engine, job_id) is False  # a duplicate message
    clock.advance(bulk.RUN_LEASE + timedelta(seconds=1))  # ... the worker died
    assert bulk.recover(engine) == 1
    assert bulk.recover(engine) == 0
    assert bulk.claim(engine, job_id) is True
    assert bulk.process(engine, job_id).finished
    bulk.hand_on(engine, job_id)  # finished: not handed on
    with engine.db.read() as s:
        assert s.get(BulkJob, job_id).status == "done"
    assert bulk.claim(engine, job_id) is False


def test_a_selection_too_large_is_refused(engine, claire, make_case, monkeypatch):
    monkeypatch.setattr(bulk, "MAX_CASES", 2)
    cases = [make_case("expired") for _ in range(3)]
    with pytest.raises(ValidationError, match="au plus 2 dossiers : affinez la sélection"):
        _start(engine, claire, cases)
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(BulkJob)) == 0


def _aftermaths(engine, job_id) -> dict[int, tuple[str, str] | None]:
    """What became of each case of the job since, as its report says it."""
    with engine.db.read() as s:
        job = s.get(BulkJob, job_id)
        items = list(s.scalars(select(BulkItem).where(BulkItem.job_id == job_id)))
        waiting = bulk_report.unfinished_steps(s, [i.case_id for i in items])
        out = {}
        for item in items:
            case = s.get(Case, item.case_id)
            after = bulk_report.aftermath(
                job, item, case, engine.definition(case.process), waiting.get(case.id, ())
            )
            out[item.case_id] = (after.fate.value, after.text) if after else None
        return out


def test_after_a_bulk_retry_the_report_says_what_became_of_each_case(
    engine, clock, claire, make_case
):
    """Operators of other engines: « the retry reports success while the incident
    remains ». Here the report reads each case again: unstuck, retrying, stuck again."""
    fixed, flaky, broken, untouched = (make_case("failed") for _ in range(4))
    job_id = _start(engine, claire, [fixed, flaky, broken], action="retry_step", params={})
    _run(engine, job_id)
    # Done, but nothing ran yet: each case waits for its step.
    assert {c: a[0] for c, a in _aftermaths(engine, job_id).items()} == dict.fromkeys(
        (fixed, flaky, broken), "running"
    )
    clock.advance(timedelta(minutes=1))

    def step_of(case_id: int) -> int:
        with engine.db.read() as s:
            return s.scalars(select(Step.id).where(Step.case_id == case_id)).one()

    ran = {c: steps.claim(engine, step_of(c)) for c in (fixed, flaky, broken)}
    steps.complete(engine, ran[fixed], steps.Outcome("sent"))
    steps.fail(engine, ran[flaky], "SMTP lent", "", permanent=False)
    steps.fail(engine, ran[broken], "SMTP toujours injoignable", "", permanent=True)

    report = _aftermaths(engine, job_id)
    nbsp = "\u00a0"
    assert report[fixed] == (
        "unstuck",
        f"état actuel{nbsp}: «{nbsp}Invitation envoyée, en attente du mot de passe{nbsp}»",
    )
    with engine.db.read() as s:
        retry_at = s.get(Step, step_of(flaky)).not_before
    fate, text = report[flaky]
    assert fate == "running"
    assert text.replace(nbsp, " ") == (
        "l'étape « Envoi de l'invitation » a échoué (SMTP lent), nouvelle tentative le "
        f"{datetime_fr(retry_at)} (tentative 2 sur 5)"
    )
    assert report[broken] == (
        "stuck_again",
        f"depuis le {datetime_fr(clock.now())}{nbsp}: L'étape «{nbsp}Envoi de "
        f"l'invitation{nbsp}» a échoué{nbsp}: SMTP toujours injoignable",
    )
    assert untouched not in report  # never selected

    # A case skipped because it changed is still stuck: said so, with why.
    again = _start(engine, claire, [broken, untouched], action="assign", params={})
    with engine.transaction() as tx:
        tx.fire(untouched, "cancel", actor=Actor("staff", 0, "Autre"))
    _run(engine, again)
    report = _aftermaths(engine, again)
    assert report[untouched] is None  # cancelled: not stuck
    assert report[broken][0] == "still_stuck"
    assert report[broken][1].startswith(f"L'étape «{nbsp}Envoi de l'invitation{nbsp}» a échoué")
