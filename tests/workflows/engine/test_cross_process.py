"""Cross-process rules as data, at three depths, with test-only definitions: a process
that needs two others (met in either order), an effect on another process, a guard
naming a prerequisite, and a yearly prerequisite that a new school year makes unmet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from tests.definitions import make_definition
from tests.factories import CoopFactory
from workers.steps import PROCESS_STEPS
from workflows.engine.catalog import Catalog
from workflows.engine.cross_process import Effect, Prerequisite, school_year_of
from workflows.engine.definition import STAFF, SYSTEM, Definition, State, StepRule
from workflows.engine.definition import Transition as T
from workflows.engine.engine import Actor, Engine
from workflows.engine.errors import DefinitionError, GuardFailed
from workflows.engine.scheduling import tick
from workflows.engine.steps import Outcome
from workflows.models import Case, CaseEvent

BY_STAFF = frozenset({STAFF, SYSTEM})


def _simple(name: str, title: str, *, yearly: bool = False) -> Definition:
    """A process staff move from ``open`` to ``done`` (and back, to test undoing)."""
    return make_definition(
        name,
        title,
        [("open", "Ouvert"), ("done", "Terminé")],
        [T("finish", "open", "done", "Terminer", by=BY_STAFF)],
        yearly=yearly,
    )


IDENTITY = _simple("identity", "Identité")
ACCOUNT = _simple("account", "Compte")
MEMBERSHIP = _simple("membership", "Adhésion", yearly=True)
#: Waits for both; then its first step runs; staff may order only with this year's
#: membership (a guard naming a prerequisite).
TRANSFER = make_definition(
    "transfer",
    "Reversement",
    [
        ("waiting", "En attente des prérequis"),
        State("writing", "Lettre en préparation", steps=("write_letter",)),
        ("sent", "Lettre envoyée"),
        ("funded", "Fonds reçus"),
    ],
    [
        T("start", "waiting", "writing", "Commencer"),
        T("written", "writing", "sent", "Lettre écrite"),
        T("fund", "sent", "funded", "Fonds reçus", by=BY_STAFF),
    ],
    steps=[StepRule("write_letter", "Lettre", on_done="written")],
    prerequisites=(
        Prerequisite("identity", ("done",), "Disponible quand votre identité sera vérifiée."),
        Prerequisite("account", ("done",), "Disponible quand votre compte sera certifié."),
    ),
    start_trigger="start",
    effects=(Effect("funded", "advance", "repay"),),
)
ADVANCE = make_definition(
    "advance",
    "Avance",
    [("requested", "Demandée"), ("paid", "Versée"), ("repaid", "Remboursée")],
    [
        T("pay", "requested", "paid", "Verser", by=BY_STAFF, guards=("prerequisite:membership",)),
        T("repay", "paid", "repaid", "Rembourser", by=BY_STAFF),
    ],
    prerequisites=(
        Prerequisite(
            "membership",
            ("done",),
            "Disponible quand l'adhésion de l'année sera validée.",
            this_year=True,
        ),
    ),
)
TEST_DEFINITIONS = {d.name: d for d in (IDENTITY, ACCOUNT, MEMBERSHIP, TRANSFER, ADVANCE)}
STAFF_ACTOR = Actor.system("test")
#: 2026-08-31 21:30 UTC is 23:30 in Paris: still school year 2025-2026.
BEFORE_ROLLOVER = datetime(2026, 8, 31, 21, 30, tzinfo=UTC)


# Depth 1: the definitions alone -----------------------------------------------------


def test_the_school_year_turns_on_the_first_of_september_in_paris():
    assert school_year_of(BEFORE_ROLLOVER) == 2025
    assert school_year_of(BEFORE_ROLLOVER + timedelta(minutes=31)) == 2026  # 00:01 in Paris
    assert school_year_of(datetime(2027, 1, 15, tzinfo=UTC)) == 2026


def test_a_prerequisite_is_a_guard_a_transition_may_name():
    assert "prerequisite:membership" in ADVANCE.guards
    assert Catalog(TEST_DEFINITIONS).dependents[("identity", "done")] == [TRANSFER]


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (Prerequisite("nowhere", ("done",), "x"), "unknown process 'nowhere'"),
        (Prerequisite("identity", ("verified",), "x"), "has no states {'verified'}"),
        (Prerequisite("identity", ("done",), "x", this_year=True), "identity is not yearly"),
    ],
)
def test_rules_that_name_nothing_stop_the_start(broken, message):
    bad = make_definition("bad", "Mauvais", [("open", "Ouvert")], final=(), prerequisites=(broken,))
    with pytest.raises(DefinitionError, match=message):
        Catalog({**TEST_DEFINITIONS, "bad": bad})


def test_prerequisites_in_a_cycle_stop_the_start():
    ping = _simple("ping", "Ping")
    pong = _simple("pong", "Pong")
    ping = Definition(**{**_fields(ping), "prerequisites": (Prerequisite("pong", ("done",), "x"),)})
    pong = Definition(**{**_fields(pong), "prerequisites": (Prerequisite("ping", ("done",), "x"),)})
    with pytest.raises(DefinitionError, match="cycle"):
        Catalog({"ping": ping, "pong": pong})


def _fields(d: Definition) -> dict:
    return {
        "name": d.name,
        "version": d.version,
        "title": d.title,
        "initial": d.initial,
        "states": d.states,
        "transitions": d.transitions,
    }


# Depth 2: the engine, in transactions ----------------------------------------------


@pytest.fixture
def rules_engine(db, clock, publisher) -> Engine:
    return Engine(db, TEST_DEFINITIONS, clock=clock, publisher=publisher)


def _cases(engine: Engine, coop_id: int) -> dict[str, Case]:
    with engine.db.read() as session:
        rows = session.scalars(select(Case).where(Case.coop_id == coop_id).order_by(Case.id))
        return {case.process: case for case in rows}


def _open(engine: Engine, coop_id: int, *processes: str) -> dict[str, int]:
    with engine.transaction() as tx:
        return {p: tx.start(p, coop_id, actor=STAFF_ACTOR).id for p in processes}


@pytest.mark.parametrize("order", [("identity", "account"), ("account", "identity")])
def test_the_last_prerequisite_met_starts_the_case_in_its_own_transaction(rules_engine, ad, order):
    coop = CoopFactory(ad=ad)
    ids = _open(rules_engine, coop.id, "identity", "account")
    first, last = order
    with rules_engine.transaction() as tx:
        tx.fire(ids[first], "finish", actor=STAFF_ACTOR)
        assert tx.coop_case(coop.id, "transfer") is None  # one of two: it waits
    with rules_engine.transaction() as tx:
        tx.fire(ids[last], "finish", actor=STAFF_ACTOR)
        started = tx.coop_case(coop.id, "transfer")
        # Inside the very transaction that met the last one: no scheduler delay.
        assert started is not None and started.state == "writing"
    cases = _cases(rules_engine, coop.id)
    assert cases["transfer"].state == "writing"
    with rules_engine.db.read() as session:
        events = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == cases["transfer"].id)
        ).all()
    assert [(e.kind, e.to_state) for e in events] == [
        ("created", "waiting"),
        ("transition", "writing"),
    ]
    assert "prérequis remplis" in events[0].actor
    assert tick(rules_engine).cases_started == 0  # nothing left for the sweep


def test_a_waiting_case_shows_each_unmet_prerequisite(rules_engine, ad):
    coop = CoopFactory(ad=ad)
    ids = _open(rules_engine, coop.id, "identity", "account", "transfer")
    with rules_engine.transaction() as tx:
        assert tx.unmet_prerequisites(coop.id, TRANSFER) == [
            "Disponible quand votre identité sera vérifiée.",
            "Disponible quand votre compte sera certifié.",
        ]
        tx.fire(ids["account"], "finish", actor=STAFF_ACTOR)
        assert tx.unmet_prerequisites(coop.id, TRANSFER) == [
            "Disponible quand votre identité sera vérifiée."
        ]
    # The waiting case created before its prerequisites starts when they are met.
    with rules_engine.transaction() as tx:
        tx.fire(ids["identity"], "finish", actor=STAFF_ACTOR)
    assert _cases(rules_engine, coop.id)["transfer"].id == ids["transfer"]
    assert _cases(rules_engine, coop.id)["transfer"].state == "writing"


def test_the_sweep_catches_up_what_no_transition_started(rules_engine, ad):
    """Prerequisites met before the process existed (here: cases written behind the
    engine's back) are found by the scheduler's sweep, once."""
    coop = CoopFactory(ad=ad)
    ids = _open(rules_engine, coop.id, "identity", "account")
    with rules_engine.db.write() as session:
        for case_id in ids.values():
            session.get(Case, case_id).state = "done"
    assert tick(rules_engine).cases_started == 1
    assert _cases(rules_engine, coop.id)["transfer"].state == "writing"
    assert tick(rules_engine).cases_started == 0


def test_an_effect_fires_on_the_other_process_and_is_audited_on_both(rules_engine, ad, clock):
    coop = CoopFactory(ad=ad)
    ids = _open(rules_engine, coop.id, "membership", "identity", "account", "advance")
    with rules_engine.transaction() as tx:
        for process in ("membership", "identity", "account"):
            tx.fire(ids[process], "finish", actor=STAFF_ACTOR)
        tx.fire(ids["advance"], "pay", actor=STAFF_ACTOR)
    transfer = _cases(rules_engine, coop.id)["transfer"]
    with rules_engine.transaction() as tx:
        tx.fire(transfer.id, "written", actor=STAFF_ACTOR)
    with rules_engine.transaction() as tx:
        tx.fire(transfer.id, "fund", actor=STAFF_ACTOR)
        # In the same transaction as the funds.
        assert tx.coop_case(coop.id, "advance").state == "repaid"
    with rules_engine.db.read() as session:
        on_transfer = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == transfer.id, CaseEvent.kind == "effect")
        ).one()
        on_advance = session.scalars(
            select(CaseEvent).where(
                CaseEvent.case_id == ids["advance"], CaseEvent.trigger == "repay"
            )
        ).one()
    assert f"dossier {ids['advance']}" in on_transfer.comment
    assert "Rembourser" in on_transfer.comment
    assert f"dossier {transfer.id}" in on_advance.actor
    assert "Fonds reçus" in on_advance.comment


def test_a_rollover_makes_this_years_prerequisite_unmet_again(rules_engine, ad, clock):
    clock.advance(BEFORE_ROLLOVER - clock.now())
    coop = CoopFactory(ad=ad)
    ids = _open(rules_engine, coop.id, "membership", "advance")
    with rules_engine.transaction() as tx:
        tx.fire(ids["membership"], "finish", actor=STAFF_ACTOR)
    assert _cases(rules_engine, coop.id)["membership"].school_year == 2025

    clock.advance(timedelta(hours=1))  # 1 September, 00:30 in Paris
    with rules_engine.transaction() as tx:
        assert tx.unmet_prerequisites(coop.id, ADVANCE) == [
            "Disponible quand l'adhésion de l'année sera validée."
        ]
        with pytest.raises(GuardFailed, match="adhésion de l'année"):
            tx.fire(ids["advance"], "pay", actor=STAFF_ACTOR)
        new_year = tx.start("membership", coop.id, actor=STAFF_ACTOR)
        assert new_year.school_year == 2026
    with rules_engine.transaction() as tx:
        tx.fire(new_year.id, "finish", actor=STAFF_ACTOR)
        tx.fire(ids["advance"], "pay", actor=STAFF_ACTOR)  # met again
    assert _cases(rules_engine, coop.id)["advance"].state == "paid"


# Depth 3: a journey through the real broker and worker -----------------------------


def test_a_journey_through_the_worker_meets_both_prerequisites(settings, clock, ad, monkeypatch):
    from coopflow.runtime import build_runtime

    letters: list[int] = []

    def write_letter(ctx):
        letters.append(ctx.step.case_id)
        return Outcome(result={"lettre": "écrite"})

    monkeypatch.setitem(
        PROCESS_STEPS, "transfer", SimpleNamespace(STEPS={"write_letter": write_letter})
    )
    rt = build_runtime(settings, clock=clock, definitions=TEST_DEFINITIONS)
    rt.start_worker(threads=2)
    try:
        coop = CoopFactory(ad=ad)
        ids = _open(rt.engine, coop.id, "identity", "account")
        for process in ("account", "identity"):
            with rt.engine.transaction() as tx:
                tx.fire(ids[process], "finish", actor=STAFF_ACTOR)
        rt.join()
        transfer = _cases(rt.engine, coop.id)["transfer"]
        assert transfer.state == "sent"  # its step ran in the worker, once
        assert letters == [transfer.id]
    finally:
        rt.stop()
