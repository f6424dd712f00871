"""What the steps of every process share to write to a case's mandataire: the case
with its coop in one statement, and an email of the process with the context every
template of it reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from workers.email_messages import Composed, compose
from workflows.models import Case, Mandataire
from workflows.typography import la_cooperative


def load_case(session: Session, case_id: int) -> Case:
    """The case, its coop (and the coop's AD) loaded with it."""
    case = session.scalars(
        select(Case).where(Case.id == case_id).options(joinedload(Case.coop))
    ).one_or_none()
    assert case is not None
    return case


def case_email(
    process: str, kind: str, subject: str, case: Case, mandataire: Mandataire, **context: Any
) -> Composed:
    """The email ``kind`` of ``process`` (``templates/emails/<process>/``) to the
    mandataire; ``{coop}`` in the subject reads « la coopérative Les Mimosas »."""
    coop = case.coop
    return compose(
        kind,
        mandataire.email,
        subject.format(coop=la_cooperative(coop.name)),
        process=process,
        mandataire=mandataire,
        coop=coop,
        ad=coop.ad,
        state=case.state,
        case_id=case.id,
        coop_id=coop.id,
        **context,
    )
