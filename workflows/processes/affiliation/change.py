"""A change of mandataire declared on the affiliation: once staff have handled its form
and the affiliation is validated, the new person is invited (an effect of the
definition, in the validating transaction)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from workflows.engine.errors import ConflictError
from workflows.models import Mandataire
from workflows.processes.affiliation.form import form_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workflows.models import Case


def new_mandataire(session: Session, case: Case) -> dict[str, Any] | None:
    """The new mandataire's record and the data of their invitation; ``None`` when the
    affiliation declared no change of mandataire."""
    change = form_of(case.data or {}).change
    if change is None or not change.mandataire:
        return None
    email = change.email.strip()
    taken = session.scalar(select(Mandataire).where(func.lower(Mandataire.email) == email.lower()))
    if taken is not None:
        if taken.coop_id == case.coop_id and taken.cancelled_at is None:
            return None  # already the coop's mandataire: nothing to invite
        raise ConflictError(f"l'adresse {email} est déjà celle d'un autre compte.")
    person = Mandataire(
        coop_id=case.coop_id,
        first_name=change.first_name,
        last_name=change.last_name,
        email=email,
    )
    session.add(person)
    session.flush()
    return {"mandataire_id": person.id}
