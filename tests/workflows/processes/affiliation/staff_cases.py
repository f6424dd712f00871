"""Affiliations brought to ``awaiting_validation`` for the tests of the staff's side: an
active coop's case, its form and frozen fee written and submitted by the mandataire, the
commitment « rendered » (``to_validation`` fired as the system: no step runs here)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tests.helpers import active_account
from workflows.engine.engine import Actor
from workflows.models import Case, CaseEvent
from workflows.processes.affiliation.form import AffiliationForm, Change, SchoolClass

CLASSES = [SchoolClass("CE1", "Mme Detruc", 2, 23), SchoolClass("CE2", "M. Chose", 1, 22)]
FEE_CENTS = 13699
CLAIRE = Actor("staff", 1, "Claire Agent")
PAUL = Actor("staff", 2, "Paul Trésorier")
NEW_MANDATAIRE = Change(
    mandataire=True, first_name="Inès", last_name="Nouvelle", email="ines.nouvelle@ac-nice.fr"
)


def submit(engine: Any, case_id: int, person: Any, change: Change | None = None) -> None:
    """The mandataire's form and fee written, ``submit`` fired by them."""
    form = AffiliationForm(CLASSES, change=change)
    fee = {"lines": [], "total_cents": FEE_CENTS, "federation_share_cents": None}
    with engine.transaction() as tx:
        case = tx.lock(case_id)
        case.data = {**case.data, "form": form.to_data(), "fee": fee}
        tx.fire(case_id, "submit", actor=Actor.mandataire(person))


def read_case(engine: Any, case_id: int) -> Case:
    with engine.db.read() as session:
        case = session.get(Case, case_id, options=[joinedload(Case.coop)])
        assert case is not None
        session.expunge(case)
        return case


def events(engine: Any, case_id: int, *triggers: str) -> list[CaseEvent]:
    with engine.db.read() as session:
        found = session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.trigger.in_(triggers))
            .order_by(CaseEvent.id)
        ).all()
        session.expunge_all()
        return list(found)


def awaiting(engine: Any, ad: Any, change: Change | None = None) -> Case:
    """A new active coop of ``ad`` whose affiliation awaits its items' validation."""
    person = active_account(engine, ad)
    case_id = draft_of(engine, person.coop_id)
    submit(engine, case_id, person, change)
    with engine.transaction() as tx:
        tx.fire(case_id, "to_validation", actor=Actor.system("rendu de l'engagement"))
    return read_case(engine, case_id)


def draft_of(engine: Any, coop_id: int) -> int:
    """The id of the coop's affiliation (started by its account becoming active)."""
    with engine.db.read() as session:
        return int(
            session.scalars(
                select(Case.id).where(Case.coop_id == coop_id, Case.process == "affiliation")
            ).one()
        )
