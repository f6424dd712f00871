"""A form that starts work does it once per rendering, whatever the clicks.

Each rendering of such a form carries a new random token (``new_token``). The view
claims it in the transaction that does the work and records there what it answered
(where it led, what it said): the token's row and the work commit together or not at
all. A second submission of the same rendering (a double click, a reload of the result,
the back button then « Envoyer » again) finds the row and is answered the same, without
doing the work again. Two submissions at the same moment are ordered by the database:
on SQLite the write lock of the first transaction, on PostgreSQL the primary key, whose
second insert waits for the first transaction and fails once it has committed. A
submission that was refused or rolled back leaves no row: the same form may be sent
again, and does the work then.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.models import FormSubmission

#: What ``new_token`` makes (``token_urlsafe``): anything else posted is no token.
TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")


class ForeignSubmission(Exception):
    """The token belongs to someone else's form: its result is not theirs to see."""


def new_token() -> str:
    """A token for one rendering of a form (192 random bits)."""
    return secrets.token_urlsafe(24)


def as_token(value: object) -> str | None:
    """``value`` if it is a token such as ``new_token`` makes, else ``None``."""
    return value if isinstance(value, str) and TOKEN.fullmatch(value) else None


def earlier(session: Session, token: str, owner: str) -> dict[str, Any] | None:
    """What the first submission of ``token`` answered, if it was submitted already."""
    row = session.get(FormSubmission, token, populate_existing=True)
    if row is None:
        return None
    if row.owner != owner:
        raise ForeignSubmission(token)
    return dict(row.result)


def claim(session: Session, token: str, owner: str) -> dict[str, Any] | None:
    """Claim ``token`` for the submission that ``session``'s transaction is doing:
    ``None`` when it is the first (do the work, then :func:`record` its answer), else
    what the first one answered (do nothing, answer the same)."""
    found = earlier(session, token, owner)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(FormSubmission(token=token, owner=owner, result={}))
    except IntegrityError:
        # Submitted at the same moment: the other transaction has committed meanwhile.
        found = earlier(session, token, owner)
        if found is None:  # pragma: no cover - the row that refused ours is there
            raise
        return found
    return None


def record(session: Session, token: str, result: dict[str, Any]) -> None:
    """What the claimed submission answered, for the next submissions of its form."""
    row = session.get(FormSubmission, token)
    if row is None:
        raise LookupError(f"form submission {token!r} was not claimed")
    row.result = dict(result)
