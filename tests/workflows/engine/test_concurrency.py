"""Two people acting on the same case at the same moment: one wins, one gets a clear
conflict, and the audit trail shows a single transition."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from tests.factories import MandataireFactory
from tests.helpers import invitation_case
from workflows.engine.engine import Actor, Engine
from workflows.engine.errors import ConflictError
from workflows.models import AD, Case, CaseEvent, Document, Step, Timer


def _invitation(engine: Engine, ad: AD, *triggers: str, trigger: str | None = None) -> Case:
    """A new mandataire's invitation, committed: started (passing through ``trigger``),
    then ``triggers`` fired."""
    mandataire = MandataireFactory(coop__ad=ad)
    with engine.transaction() as tx:
        return invitation_case(tx, mandataire, *triggers, trigger=trigger)


def _run_together(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_racing_triggers_give_one_transition_and_one_conflict(engine, ad):
    """The mandataire chooses a password at the very moment the link expires: each
    trigger forbids the other once applied, so whichever commits first, the second gets
    a clear conflict and nothing of it is written."""
    case = _invitation(engine, ad, "sent", trigger="invite")
    with engine.db.read() as s:
        before = s.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.kind == "transition")
        )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(actor: Actor, trigger: str) -> None:
        barrier.wait()
        try:
            with engine.transaction() as tx:
                tx.fire(case.id, trigger, actor=actor)
            outcomes.append("ok")
        except ConflictError as exc:
            outcomes.append(str(exc))

    threads = [
        threading.Thread(target=act, args=(Actor("mandataire", 1, "Éloïse"), "set_password")),
        threading.Thread(target=act, args=(Actor.system("minuteur"), "expire")),
    ]
    _run_together(threads)

    assert outcomes.count("ok") == 1
    [conflict] = [o for o in outcomes if o != "ok"]
    assert "impossible" in conflict and "l'état" in conflict
    with engine.db.read() as s:
        final = s.get(Case, case.id)
        after = s.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.kind == "transition")
        )
        timers = s.scalars(select(Timer).where(Timer.case_id == case.id)).all()
    assert after == before + 1 and final.version == case.version + 1
    assert final.state in {"password_set", "expired"}
    # Whoever won, the loser left nothing: the link's timers were all closed once.
    assert all(t.closed_at is not None for t in timers)


def test_same_trigger_twice_with_the_same_version(engine, ad):
    """Two staff members click « Renvoyer » on the page they both loaded."""
    case = _invitation(engine, ad)
    seen = case.version
    barrier = threading.Barrier(2)
    errors: list[str] = []

    def click() -> None:
        barrier.wait()
        try:
            with engine.transaction() as tx:
                tx.fire(case.id, "invite", actor=Actor("staff", 1, "x"), expected_version=seen)
        except ConflictError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=click) for _ in range(2)]
    _run_together(threads)
    assert len(errors) == 1 and "modifié par quelqu'un d'autre" in errors[0]


def test_fifty_people_acting_at_once_give_one_transition_and_49_conflicts(engine, ad):
    """Fifty conflicting triggers on one case (half « invite », half « cancel ») from
    fifty threads released together: exactly one wins, 49 get a clear French conflict."""
    case = _invitation(engine, ad)
    seen = case.version
    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def act(n: int) -> None:
        trigger = "invite" if n % 2 else "cancel"
        barrier.wait()
        try:
            with engine.transaction() as tx:
                tx.fire(
                    case.id,
                    trigger,
                    actor=Actor("staff", n, f"agent {n}"),
                    expected_version=seen,
                    comment=f"agent {n}",
                )
            result = "ok"
        except ConflictError as exc:
            result = str(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=act, args=(n,)) for n in range(50)]
    _run_together(threads)

    assert len(outcomes) == 50 and outcomes.count("ok") == 1
    conflicts = [o for o in outcomes if o != "ok"]
    assert len(conflicts) == 49
    assert all("modifié par quelqu'un d'autre" in c for c in conflicts), set(conflicts)
    with engine.db.read() as s:
        final = s.get(Case, case.id)
        transitions = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "transition")
        ).all()
        steps = s.scalars(select(Step).where(Step.case_id == case.id)).all()
    assert len(transitions) == 1 and final.version == seen + 1
    # The winner's one step: the invitation email, or the end of the account's access.
    expected = {"sending": ["send_invitation"], "cancelled": ["end_access"]}[final.state]
    assert [step.name for step in steps] == expected


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_locked_case_still_takes_the_rows_that_refer_to_it(engine, ad):
    """A transition holds its case's row; a batch of documents of that case (a foreign
    key to it) is written meanwhile instead of waiting: ``FOR UPDATE`` blocked the
    foreign key's check, and two such waits in opposite orders deadlocked (B6). Two
    transitions of one case still wait for each other."""
    case = _invitation(engine, ad, "sent", trigger="invite")
    holding, released = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.transaction() as tx:
            tx.lock(case.id)
            holding.set()
            released.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        with engine.db.write() as session:
            session.add(
                Document(
                    idempotency_key="lock-test",
                    coop_id=case.coop_id,
                    case_id=case.id,
                    kind="essai",
                    title="Essai",
                    filename="essai.pdf",
                    content_type="application/pdf",
                    content=b"%PDF-",
                    sha256="0" * 64,
                    size=5,
                    created_at=engine.clock.now(),
                )
            )
        assert time.monotonic() - started < 2, "the document waited for the case's lock"
        waited: list[float] = []

        def second() -> None:
            begun = time.monotonic()
            with engine.transaction() as tx:
                tx.lock(case.id)
            waited.append(time.monotonic() - begun)

        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.5)
        assert not waited, "a second lock of the case did not wait"
    finally:
        released.set()
        holder.join()
    other.join(5)
    assert waited and waited[0] >= 0.4
