"""Steps travel in batches: one message carries several step ids, claimed by one
statement, run one by one, completed by one transaction. A failure, a slow batch or two
steps of one case in the same message keep the meaning a step has alone."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

import dramatiq
import pytest
from sqlalchemy import event, func, select

from tests.definitions import make_definition
from tests.factories import CoopFactory
from workers import runner as runner_module
from workers.broker import QUEUE, make_broker, publisher_for
from workers.runner import run_steps
from workers.steps import PROCESS_STEPS
from workflows.engine import steps as steps_module
from workflows.engine.definition import State, StepRule
from workflows.engine.definition import Transition as T
from workflows.engine.engine import Actor, Engine, StepTiming
from workflows.engine.steps import Outcome
from workflows.models import Case, CaseEvent, Step
from workflows.processes import DEFINITIONS

LOT = make_definition(
    "lot",
    "Lot d'essai",
    [
        ("created", "Créé"),
        State("working", "En cours", steps=("work",)),
        State("pair", "Paire", steps=("left", "right")),
        State("quiet", "Calme", steps=("note",)),
        ("done", "Fini"),
    ],
    [
        T("start", "created", "working", "Démarrer"),
        T("worked", "working", "done", "Travail fait"),
        T("split", "created", "pair", "Deux étapes"),
        T("left_done", "pair", "done", "Gauche faite"),
        T("right_done", "pair", "done", "Droite faite"),
        T("hush", "created", "quiet", "Une étape qui ne fait rien avancer"),
        T("stop", "quiet", "done", "Arrêté"),
    ],
    steps=[
        StepRule("work", "Travail", on_done="worked"),
        StepRule("left", "Gauche", on_done="left_done"),
        StepRule("right", "Droite", on_done="right_done"),
        StepRule("note", "Note"),
    ],
)
SYSTEM = Actor.system("test")


@dataclass
class Services:
    engine: Engine


@pytest.fixture
def lot_engine(db, clock, publisher):
    return Engine(db, {**DEFINITIONS, "lot": LOT}, clock=clock, publisher=publisher)


@pytest.fixture
def failing() -> set[int]:
    """The cases whose step fails (the server is down)."""
    return set()


@pytest.fixture
def handled(monkeypatch, failing):
    """The steps run, in order; those of the ``failing`` cases raise. No database work
    of their own: what a batch costs the database is the engine's."""
    ran: list[int] = []

    def handle(ctx):
        ran.append(ctx.step.id)
        if ctx.step.case_id in failing:
            raise RuntimeError("serveur injoignable")
        return Outcome(result={"fait": ctx.step.name})

    monkeypatch.setitem(
        PROCESS_STEPS,
        "lot",
        SimpleNamespace(STEPS=dict.fromkeys(("work", "left", "right", "note"), handle)),
    )
    return ran


def _start(engine, ad, count, trigger="start") -> list[int]:
    coops = [CoopFactory(ad=ad) for _ in range(count)]
    with engine.transaction() as tx:
        cases = tx.start_many("lot", [(c.id, {}) for c in coops], actor=SYSTEM, trigger=trigger)
    return [case.id for case in cases]


def _steps(engine, case_ids):
    with engine.db.read() as s:
        return s.scalars(select(Step).where(Step.case_id.in_(case_ids)).order_by(Step.id)).all()


def _states(engine, case_ids):
    with engine.db.read() as s:
        return [s.get(Case, i).state for i in case_ids]


def _statements(engine):
    """Counts the statements sent to the database while the block runs."""
    counted = []

    def count(*_):
        counted.append(1)

    target = engine.db.engine
    event.listen(target, "before_cursor_execute", count)
    return counted, lambda: event.remove(target, "before_cursor_execute", count)


def test_a_message_of_many_steps_costs_the_statements_of_one(lot_engine, publisher, ad, handled):
    """The engine's statements (claim, lock, check, finish, transitions, events, next
    steps) do not grow with the batch."""
    costs = {}
    for size in (2, 8):
        case_ids = _start(lot_engine, ad, size)
        ids = [step.id for step in _steps(lot_engine, case_ids)]
        publisher.published.clear()
        counted, stop = _statements(lot_engine)
        run_steps(Services(lot_engine), ids)
        stop()
        costs[size] = len(counted)
        assert _states(lot_engine, case_ids) == ["done"] * size
        steps = _steps(lot_engine, case_ids)
        assert [(s.status, s.attempts, s.result) for s in steps] == [
            ("done", 1, {"fait": "work"})
        ] * size
        assert all(s.lease_until is None and s.finished_at is not None for s in steps)
        with lot_engine.db.read() as s:
            trail = s.execute(
                select(CaseEvent.case_id, CaseEvent.trigger, CaseEvent.actor)
                .where(CaseEvent.case_id.in_(case_ids), CaseEvent.trigger == "worked")
                .order_by(CaseEvent.id)
            ).all()
        assert trail == [(i, "worked", "system étape work") for i in case_ids]
        assert publisher.published == []  # a final state queues nothing
    assert costs[2] == costs[8]
    assert handled  # the handlers did run


def test_steps_that_fire_nothing_are_done_by_one_statement_and_only_if_still_theirs(
    lot_engine, publisher, ad, handled
):
    """A message of steps that move no case (a document stored, an email sent): marked
    done with their results by one statement, whatever their number; a step another run
    took over meanwhile (its lease ran out) is left to that run, and one its case's
    transition cancelled stays cancelled."""
    case_ids = _start(lot_engine, ad, 6, trigger="hush")
    ids = [step.id for step in _steps(lot_engine, case_ids)]
    taken_over, cancelled = ids[1], ids[4]
    real = steps_module.claim_many

    def claim_then_interfere(engine, step_ids):
        claimed = real(engine, step_ids)
        with engine.db.write() as s:  # another run's claim, then a transition elsewhere
            s.get(Step, taken_over).attempts += 1
            s.get(Step, cancelled).status = "cancelled"
        return claimed

    counted, stop = _statements(lot_engine)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner_module, "claim_many", claim_then_interfere)
        run_steps(Services(lot_engine), ids)
    stop()
    by_id = {s.id: s for s in _steps(lot_engine, case_ids)}
    assert [(i, by_id[i].status) for i in ids] == [
        (i, "running" if i == taken_over else "cancelled" if i == cancelled else "done")
        for i in ids
    ]
    assert all(by_id[i].result == {"fait": "note"} for i in ids if i not in (taken_over, cancelled))
    assert not by_id[taken_over].result and by_id[taken_over].lease_until is not None
    assert _states(lot_engine, case_ids) == ["quiet"] * 6
    # Their cost: the claim, then done and results, for two steps as for eight (and
    # SQLite's BEGIN IMMEDIATE for each transaction).
    costs = {}
    for size in (2, 8):
        case_ids = _start(lot_engine, ad, size, trigger="hush")
        ids = [step.id for step in _steps(lot_engine, case_ids)]
        counted, stop = _statements(lot_engine)
        run_steps(Services(lot_engine), ids)
        stop()
        costs[size] = len(counted)
        assert _states(lot_engine, case_ids) == ["quiet"] * size
    assert costs[2] == costs[8] == (5 if lot_engine.db.is_sqlite else 3)


def test_a_failing_step_does_not_hold_back_the_others_of_its_message(
    lot_engine, publisher, ad, handled, failing
):
    case_ids = _start(lot_engine, ad, 4)
    failing.add(case_ids[2])
    ids = [step.id for step in _steps(lot_engine, case_ids)]
    publisher.published.clear()
    run_steps(Services(lot_engine), ids)
    assert handled == ids  # in the order of the message
    assert _states(lot_engine, case_ids) == ["done", "done", "working", "done"]
    failed = _steps(lot_engine, [case_ids[2]])[0]
    assert (failed.status, failed.attempts, failed.last_error) == (
        "pending",
        1,
        "serveur injoignable",
    )
    [(step_id, delay_ms)] = publisher.published  # its retry, after a backoff
    assert step_id == failed.id and delay_ms > 0


def test_a_delivery_twice_of_the_same_batch_runs_nothing_again(lot_engine, publisher, ad, handled):
    case_ids = _start(lot_engine, ad, 3)
    ids = [step.id for step in _steps(lot_engine, case_ids)]
    run_steps(Services(lot_engine), ids)
    run_steps(Services(lot_engine), ids + ids)  # late, and duplicated inside the message
    assert handled == ids
    with lot_engine.db.read() as s:
        events = s.scalar(
            select(func.count()).where(
                CaseEvent.case_id.in_(case_ids), CaseEvent.trigger == "worked"
            )
        )
    assert events == 3


def test_two_steps_of_one_case_in_one_message_act_as_if_run_apart(
    lot_engine, publisher, ad, handled
):
    """« left » ends the case; « right » of the same state, run in the same batch, is
    then dropped as on leaving the state: one transition, not a conflict."""
    [case_id] = _start(lot_engine, ad, 1, trigger="split")
    left, right = _steps(lot_engine, [case_id])
    run_steps(Services(lot_engine), [left.id, right.id])
    assert _states(lot_engine, [case_id]) == ["done"]
    left, right = _steps(lot_engine, [case_id])
    assert (left.name, left.status, right.name, right.status) == (
        "left",
        "done",
        "right",
        "cancelled",
    )
    with lot_engine.db.read() as s:
        triggers = s.scalars(
            select(CaseEvent.trigger).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        ).all()
    assert triggers == [None, "split", "left_done"]


def test_a_batch_over_its_time_budget_hands_back_the_steps_not_started(
    db, clock, publisher, ad, monkeypatch, caplog
):
    """Half the run lease is the budget of a batch: the steps it could not start go back
    to the queue, their attempt unused, before their lease could run out."""
    engine = Engine(
        db,
        {**DEFINITIONS, "lot": LOT},
        clock=clock,
        publisher=publisher,
        timing=StepTiming(run_lease=timedelta(seconds=0.4)),
    )

    def slow(ctx):
        time.sleep(0.3)
        return Outcome()

    monkeypatch.setitem(PROCESS_STEPS, "lot", SimpleNamespace(STEPS={"work": slow}))
    case_ids = _start(engine, ad, 3)
    ids = [step.id for step in _steps(engine, case_ids)]
    publisher.published.clear()
    with caplog.at_level(logging.INFO, logger="workers.runner"):
        run_steps(Services(engine), ids)
    assert [(r.message, r.step_id) for r in caplog.records if r.message == "step done"] == [
        ("step done", ids[0])
    ]
    assert _states(engine, case_ids) == ["done", "working", "working"]
    steps = _steps(engine, case_ids)
    assert [(s.status, s.attempts) for s in steps] == [("done", 1), ("pending", 0), ("pending", 0)]
    assert publisher.ids == ids[1:]
    run_steps(Services(engine), ids[1:2])  # a message of one always runs its step
    assert _states(engine, case_ids) == ["done", "done", "working"]


def test_the_publisher_puts_a_batch_in_each_message():
    broker = make_broker("stub:")
    actor = dramatiq.actor(actor_name="run_step", queue_name=QUEUE, broker=broker)(lambda ids: None)
    publisher_for(actor, batch=20)(list(range(1, 46)), 0)
    messages = [dramatiq.Message.decode(m) for m in broker.queues[QUEUE].queue]
    assert [m.args[0] for m in messages] == [
        list(range(1, 21)),
        list(range(21, 41)),
        list(range(41, 46)),
    ]
    broker.close()


def test_a_message_of_the_old_shape_still_runs(settings, smtp_server, clock, ad):
    """Messages queued before steps travelled in batches carry one step id."""
    from coopflow.runtime import build_runtime
    from tests.helpers import start_invitation

    rt = build_runtime(settings.with_overrides(smtp_url=smtp_server.url), clock=clock)
    try:
        rt.engine.publisher = None
        case_id, step_id, mandataire = start_invitation(rt.engine, ad)
        rt.actor.send(step_id)
        rt.start_worker(threads=1)
        rt.join()
        assert len(smtp_server.to(mandataire.email)) == 1
        assert _states(rt.engine, [case_id]) == ["invited"]
    finally:
        rt.stop()
