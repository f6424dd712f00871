"""A coop's mandataires who have an account (they chose a password): the space's
administrators, and the one the coop's emails and its case pages name."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from workflows.models import Mandataire


def _with_account(coop_id: int) -> Select[Mandataire]:
    return select(Mandataire).where(
        Mandataire.coop_id == coop_id, Mandataire.password_hash.is_not(None)
    )


def with_account(session: Session, coop_id: int) -> list[Mandataire]:
    """Every mandataire of the coop who has an account, in the order they were added."""
    return list(session.scalars(_with_account(coop_id).order_by(Mandataire.id)))


def latest_with_account(session: Session, coop_id: int) -> Mandataire | None:
    """The coop's mandataire with an account: the latest to have set a password."""
    return session.scalars(
        _with_account(coop_id)
        .order_by(Mandataire.password_set_at.desc(), Mandataire.id.desc())
        .limit(1)
    ).first()
