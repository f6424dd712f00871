"""A coop's mandataires who have an account (they chose a password, and their invitation
was not cancelled): the space's administrators, and the one the coop's emails and its
case pages name; a password chosen with a link; and the end of an account's access."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, select, update
from sqlalchemy.orm import Session

from workflows.links import revoke_every_link
from workflows.models import Mandataire, Token


def has_account(mandataire: Mandataire) -> bool:
    """Whether the mandataire may log in: a password chosen, access not ended."""
    return mandataire.password_hash is not None and mandataire.cancelled_at is None


def account_condition() -> ColumnElement[bool]:
    """:func:`has_account` in SQL."""
    return and_(Mandataire.password_hash.is_not(None), Mandataire.cancelled_at.is_(None))


def end_access(session: Session, mandataire_id: int, *, now: datetime) -> bool:
    """Cancelled by staff: the account no longer logs in, every session of it ends at its
    next request, every link sent to it stops working. ``False`` when it was already
    ended (nothing changes: a step run twice)."""
    ended = session.execute(
        update(Mandataire)
        .where(Mandataire.id == mandataire_id, Mandataire.cancelled_at.is_(None))
        .values(cancelled_at=now, session_version=Mandataire.session_version + 1)
        .execution_options(synchronize_session="fetch")
    )
    if not ended.rowcount:  # type: ignore[attr-defined]
        return False
    revoke_every_link(session, mandataire_id=mandataire_id, now=now)
    return True


def _with_account(coop_id: int) -> Select[Mandataire]:
    return select(Mandataire).where(Mandataire.coop_id == coop_id, account_condition())


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


def latest_with_account_of(session: Session, coop_ids: list[int]) -> dict[int, Mandataire]:
    """:func:`latest_with_account` of each coop of ``coop_ids`` that has one, in one query."""
    found: dict[int, Mandataire] = {}
    rows = session.scalars(
        select(Mandataire)
        .where(Mandataire.coop_id.in_(coop_ids), account_condition())
        .order_by(Mandataire.password_set_at.desc(), Mandataire.id.desc())
    )
    for person in rows:
        found.setdefault(person.coop_id, person)
    return found


def set_password_with_link(
    session: Session, token: Token, password_hash: str, *, now: datetime
) -> Mandataire:
    """The mandataire of ``token`` (a password link, locked) chose a password: the link is
    spent, the password theirs (their other sessions end: they are stamped with it)."""
    person = session.get(Mandataire, token.mandataire_id)
    assert person is not None
    token.used_at = now
    person.password_hash = password_hash
    person.password_set_at = now
    return person
