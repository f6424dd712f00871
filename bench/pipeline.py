"""B1's workload, twice: a three-step automated process run by the engine, and the same
database writes done by three bare Dramatiq actors calling each other (the baseline).

Each step writes one row: the coop's ``phone`` becomes « etape-1 », « etape-2 »,
« etape-3 ». The engine adds what makes it an engine: step rows claimed and recorded,
transitions locked, audited and versioned, the next step queued in the outbox.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dramatiq
from sqlalchemy import update

from tests.definitions import make_definition
from workflows.engine.definition import State, StepRule
from workflows.engine.definition import Transition as T
from workflows.engine.steps import Outcome
from workflows.models import Coop

if TYPE_CHECKING:
    from workers.context import StepContext
    from workflows.engine.db import Database

NAME = "bench_pipeline"
STEP_NAMES = ("step_one", "step_two", "step_three")
QUEUE = "bench"

DEFINITION = make_definition(
    NAME,
    "Banc d'essai : trois étapes automatiques",
    [
        ("created", "Créé"),
        State("one", "Étape 1", steps=("step_one",)),
        State("two", "Étape 2", steps=("step_two",)),
        State("three", "Étape 3", steps=("step_three",)),
        ("done", "Terminé"),
    ],
    [
        T("start", "created", "one", "Démarrer"),
        T("one_done", "one", "two", "Étape 1 faite"),
        T("two_done", "two", "three", "Étape 2 faite"),
        T("three_done", "three", "done", "Étape 3 faite"),
    ],
    steps=[
        StepRule("step_one", "Étape 1", on_done="one_done"),
        StepRule("step_two", "Étape 2", on_done="two_done"),
        StepRule("step_three", "Étape 3", on_done="three_done"),
    ],
)


def write(db: Database, coop_id: int, step_number: int) -> None:
    """The business write of one step, the same for both contestants."""
    with db.write() as session:
        session.execute(update(Coop).where(Coop.id == coop_id).values(phone=f"etape-{step_number}"))


def _handler(step_number: int):  # type: ignore[no-untyped-def]
    def handle(ctx: StepContext) -> Outcome:
        write(ctx.engine.db, ctx.step.coop_id, step_number)
        return Outcome()

    return handle


#: The handler of each step (this module is the process's steps module: workers.steps).
STEPS = {name: _handler(n) for n, name in enumerate(STEP_NAMES, start=1)}


def declare_baseline(broker: dramatiq.Broker, db: Database) -> dramatiq.Actor:
    """Three actors, each doing its write then sending the next: the first one."""

    def third(coop_id: int) -> None:
        write(db, coop_id, 3)

    third_actor = dramatiq.actor(actor_name="bench_third", queue_name=QUEUE, broker=broker)(third)

    def second(coop_id: int) -> None:
        write(db, coop_id, 2)
        third_actor.send(coop_id)

    second_actor = dramatiq.actor(actor_name="bench_second", queue_name=QUEUE, broker=broker)(
        second
    )

    def first(coop_id: int) -> None:
        write(db, coop_id, 1)
        second_actor.send(coop_id)

    return dramatiq.actor(actor_name="bench_first", queue_name=QUEUE, broker=broker)(first)
