"""The simulated Swan's world, kept in ``swan_sandbox_objects`` (:class:`SandboxObject`):
its objects and how they read as Swan's, what a person's moves on Swan's page change,
and the outage switch. Used by :mod:`~workers.providers.swan.sandbox` (and the manual
path keeps its few records the same way)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workers.providers.swan.errors import SwanRejected
from workers.providers.swan.interface import (
    MATCH_ERRORS,
    Identification,
    IdentificationStatus,
    Membership,
    MembershipStatus,
)
from workflows.engine.db import Database
from workflows.models.banking import SandboxObject
from workflows.processes.kyc.reasons import REASONS

ACCOUNT, MEMBERSHIP, IDENTIFICATION, BENEFICIARY, TRANSACTION = (
    "account",
    "membership",
    "identification",
    "beneficiary",
    "transaction",
)
#: The control row of the outage switch (kind ``control``).
OUTAGE_ID = "sbx_control_outage"
#: What a person does on the identification page (``SandboxSwan.simulate``).
OUTCOMES = ("started", "pending", "valid", "invalid", "expired", "canceled", "binding_error")
#: The webhook event of each change.
UPDATED, BOUND = "AccountMembership.Updated", "AccountMembership.Bound"
#: The webhook event of a transaction, by its status (Swan's ``Transaction.*``).
TRANSACTION_EVENTS = {
    "Booked": "Transaction.Booked",
    "Pending": "Transaction.Pending",
    "Rejected": "Transaction.Rejected",
    "Canceled": "Transaction.Canceled",
}

NAME = "Swan (bac à sable)"
_OPEN = (IdentificationStatus.STARTED, IdentificationStatus.PENDING)
_UNKNOWN = {
    ACCOUNT: "compte inconnu",
    MEMBERSHIP: "adhésion inconnue",
    BENEFICIARY: "bénéficiaire inconnu",
    TRANSACTION: "virement inconnu",
}


# The outage switch ---------------------------------------------------------------------


def set_outage(db: Database, until: datetime | None) -> None:
    """Make every call of every ``SandboxSwan`` on ``db`` fail until ``until`` (``None``:
    the outage ends now), whichever process it runs in."""
    with db.write() as session:
        insert_new(session, id=OUTAGE_ID, kind="control", status="normal", data={})
        row = session.get(SandboxObject, OUTAGE_ID, with_for_update=True)
        assert row is not None
        row.status = "outage" if until else "normal"
        row.data = {"until": until.astimezone(UTC).isoformat() if until else None}
        row.updated_at = datetime.now(UTC)


def outage_until(db: Database) -> datetime | None:
    """The end of the outage set by :func:`set_outage`, if one was set."""
    with db.read() as session:
        row = session.get(SandboxObject, OUTAGE_ID)
        until = row.data.get("until") if row is not None else None
    return datetime.fromisoformat(until) if until else None


# Rows ----------------------------------------------------------------------------------


def insert_new(session: Session, **values: Any) -> None:
    """Insert a row unless one has its id: objects whose id is derived from what they
    are (a coop's account, an account's IBAN) are made once, even by two processes at
    the same instant."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(SandboxObject).values(**values)
    session.execute(statement.on_conflict_do_nothing(index_elements=["id"]))


def digest(text: str) -> str:
    """A short id part derived from ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def row_of(session: Session, object_id: str, kind: str, *, lock: bool = False) -> SandboxObject:
    """The object ``object_id`` of ``kind``, or Swan's refusal of an unknown id."""
    row = session.get(SandboxObject, object_id, with_for_update=lock)
    if row is None or row.kind != kind:
        what = _UNKNOWN.get(kind, "objet inconnu")
        raise SwanRejected(f"{NAME} : {what} ({object_id}).", code="NotFoundRejection")
    return row


def children(session: Session, parent_id: str, kind: str) -> list[SandboxObject]:
    query = select(SandboxObject).where(
        SandboxObject.parent_id == parent_id, SandboxObject.kind == kind
    )
    return list(session.scalars(query))


def identifications(session: Session, membership_id: str) -> list[SandboxObject]:
    """Newest first (two begun at the same instant: the later one first)."""
    rows = children(session, membership_id, IDENTIFICATION)
    return sorted(rows, key=lambda r: (r.created_at, r.data.get("seq", 0)), reverse=True)


def membership_of(session: Session, row: SandboxObject) -> Membership:
    """A membership row and its identifications, as Swan's API answers them."""
    return Membership(
        id=row.id,
        account_id=row.parent_id or "",
        status=MembershipStatus(row.status),
        email=row.data["email"],
        mismatches=tuple(row.data.get("mismatches") or ()),
        identifications=tuple(
            Identification(
                id=i.id,
                status=IdentificationStatus(i.status),
                created_at=i.created_at,
                reasons=tuple(i.data.get("reasons") or ()),
            )
            for i in identifications(session, row.id)
        ),
    )


def transaction_node(row: SandboxObject) -> dict[str, Any]:
    """A transaction row as Swan's ``transaction(id)`` answers it (read by the same
    :func:`~workers.providers.swan.graphql.transaction_from` as the real answer)."""
    return {
        **row.data,
        "id": row.id,
        "statusInfo": {"status": row.status},
        "account": {"id": row.parent_id},
    }


# A person's moves ----------------------------------------------------------------------


def check_move(outcome: str, reasons: tuple[str, ...], fields: tuple[str, ...]) -> None:
    """Refuse what Swan's page cannot produce, before anything changes."""
    if outcome not in OUTCOMES:
        raise SwanRejected(f"{NAME} : geste inconnu « {outcome} ».")
    unknown = [code for code in reasons if code not in REASONS]
    if unknown:
        raise SwanRejected(f"{NAME} : motif de refus inconnu : {', '.join(unknown)}.")
    if outcome == "binding_error" and (not fields or set(fields) - set(MATCH_ERRORS)):
        raise SwanRejected(
            f"{NAME} : précisez ce qui diffère de la fiche parmi {', '.join(MATCH_ERRORS)}."
        )


def apply_move(
    session: Session,
    membership: SandboxObject,
    outcome: str,
    reasons: tuple[str, ...],
    fields: tuple[str, ...],
    now: datetime,
) -> list[str]:
    """Change the rows for ``outcome`` (checked by :func:`check_move`); the event types
    of the changes, in order. A move Swan would not allow raises :class:`SwanRejected`."""
    status = MembershipStatus(membership.status)
    if status == MembershipStatus.ENABLED:
        raise SwanRejected(f"{NAME} : cette identité est déjà vérifiée.")
    if status in (MembershipStatus.SUSPENDED, MembershipStatus.DISABLED):
        raise SwanRejected(f"{NAME} : cette adhésion est suspendue ou désactivée.")
    latest = identifications(session, membership.id)
    current = latest[0] if latest and latest[0].status in _OPEN else None
    changes: list[str] = []
    if outcome in ("expired", "canceled"):
        if current is None:
            raise SwanRejected(f"{NAME} : aucune vérification en cours.")
        if outcome == "expired" and current.status != IdentificationStatus.STARTED:
            raise SwanRejected(f"{NAME} : des pièces envoyées n'expirent pas, Swan les examine.")
        ended = {"expired": IdentificationStatus.EXPIRED, "canceled": IdentificationStatus.CANCELED}
        _set(current, ended[outcome], now)
        return [UPDATED]
    if current is not None and current.status == IdentificationStatus.PENDING:
        if outcome == "started":
            raise SwanRejected(f"{NAME} : des pièces ont été envoyées, Swan les examine.")
        if outcome == "pending":
            return []  # sent twice (a second click): nothing new
    if current is None:
        current = _start(session, membership.id, len(latest) + 1, now)
        changes.append(UPDATED)
    if outcome == "started":
        return changes  # already begun: the person goes on with it
    if outcome == "pending":
        _set(current, IdentificationStatus.PENDING, now)
        return [*changes, UPDATED]
    if outcome == "invalid":
        _set(current, IdentificationStatus.INVALID, now)
        current.data = {**current.data, "reasons": list(reasons or ("ExpiredDocument",))}
        return [*changes, UPDATED]
    _set(current, IdentificationStatus.VALID, now)
    if outcome == "valid":
        membership.status = MembershipStatus.ENABLED.value
        membership.data = {**membership.data, "mismatches": []}
        return [*changes, BOUND]
    membership.status = MembershipStatus.BINDING_USER_ERROR.value
    membership.data = {**membership.data, "mismatches": [f for f in MATCH_ERRORS if f in fields]}
    return [*changes, UPDATED]


def _set(row: SandboxObject, status: IdentificationStatus, now: datetime) -> None:
    row.status, row.updated_at = status.value, now


def _start(session: Session, membership_id: str, seq: int, now: datetime) -> SandboxObject:
    row = SandboxObject(
        id=f"sbx_idv_{secrets.token_hex(8)}",
        kind=IDENTIFICATION,
        parent_id=membership_id,
        status=IdentificationStatus.STARTED.value,
        data={"seq": seq, "reasons": []},
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row
