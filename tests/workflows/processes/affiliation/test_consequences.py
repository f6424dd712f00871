"""What the affiliation gates: a process that needs this school year's validated
affiliation (the card order, the emergency advance: PROCESSES.md §5 and §6 name
``AFFILIATED``) waits with its reason shown until the AD validates it, and a new school
year makes it wait again; a late affiliation shows on the checklist as what blocks the
coop's banking services."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.definitions import make_definition
from tests.helpers import active_account
from web.portal import checklist
from workflows.engine.definition import Transition
from workflows.engine.engine import Actor, Engine
from workflows.engine.scheduling import tick
from workflows.models import Case, Coop
from workflows.processes import DEFINITIONS
from workflows.processes.affiliation.definition import AFFILIATED
from workflows.processes.affiliation.form import AffiliationForm, SchoolClass

#: A process gated as the card order will be: waiting until this year's affiliation.
GATED = make_definition(
    "gated",
    "Carte bancaire",
    [("waiting", "En attente"), ("open", "Ouverte")],
    [Transition("start", "waiting", "open", "Démarrage")],
    prerequisites=(AFFILIATED,),
    start_trigger="start",
    checklist_position=7,
)
FEE = {"lines": [], "total_cents": 13699, "federation_share_cents": None}


@pytest.fixture
def gated_engine(db, clock, publisher) -> Engine:
    return Engine(db, {**DEFINITIONS, "gated": GATED}, clock=clock, publisher=publisher)


def _affiliation(engine: Engine, coop_id: int) -> int:
    with engine.db.read() as s:
        return s.scalars(
            select(Case.id)
            .where(Case.coop_id == coop_id, Case.process == "affiliation")
            .order_by(Case.id.desc())
        ).first()


def _validate(engine: Engine, case_id: int, person) -> None:  # type: ignore[no-untyped-def]
    with engine.transaction() as tx:
        case = tx.lock(case_id)
        form = AffiliationForm([SchoolClass("CP", "", 1, 20)]).to_data()
        checks = {"payment": {"by": "Claire"}, "commitment": {"by": "Claire"}}
        case.data = {**case.data, "form": form, "fee": FEE, "checks": checks}
        tx.fire(case_id, "submit", actor=Actor.mandataire(person))
        tx.fire(case_id, "to_validation", actor=Actor.system("rendu"))
        tx.fire(case_id, "validate", actor=Actor("staff", 1, "Claire"))


def _lines(engine: Engine, coop_id: int) -> dict[str, checklist.Line]:
    with engine.db.read() as s:
        coop = s.get(Coop, coop_id)
        assert coop is not None
        built = checklist.build(s, coop, engine.definitions, engine.clock.now())
        return {line.process: line for line in built}


def test_a_gated_process_waits_for_this_years_validated_affiliation(gated_engine, clock, ad):
    engine = gated_engine
    person = active_account(engine, ad)
    line = _lines(engine, person.coop_id)["gated"]
    assert line.waiting == (AFFILIATED.reason,)
    assert "affiliation de cette année sera validée" in (line.note or "")
    _validate(engine, _affiliation(engine, person.coop_id), person)
    with engine.db.read() as s:
        gated = s.scalars(
            select(Case).where(Case.coop_id == person.coop_id, Case.process == "gated")
        ).one()
    assert gated.state == "open"  # started in the validating transaction
    # A new school year: this year's affiliation is not validated yet.
    clock.advance(datetime(2027, 9, 1, 6, 0, tzinfo=UTC) - clock.now())
    tick(engine)
    with engine.db.read() as s:
        from workflows.engine.cross_process import unmet

        assert unmet(s, person.coop_id, [AFFILIATED], clock.now()) == [AFFILIATED]
    assert _lines(engine, person.coop_id)["affiliation"].action == "Compléter l'adhésion"


def test_a_late_affiliation_shows_what_it_blocks(engine, clock, ad):
    person = active_account(engine, ad)
    clock.advance(datetime(2026, 10, 1, 8, 0, tzinfo=UTC) - clock.now())
    tick(engine)
    line = _lines(engine, person.coop_id)["affiliation"]
    assert (
        line.state == "En retard : votre coopérative pourrait être empêchée dans son fonctionnement"
    )
    assert (line.action, line.action_url) == ("Compléter l'adhésion", "/mon-espace/adhesion")
