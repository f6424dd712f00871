"""Giving a case to a staff member (or to nobody), from its page or by a bulk job.

The assignee must be able to act on the case (:func:`workflows.scope.can_act_on`); the
change bumps the case's version and is audited with the staff member who made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import TransitionNotAllowed
from workflows.models import Case, StaffUser
from workflows.scope import can_act_on

NOBODY = "personne"


class AssigneeRefused(TransitionNotAllowed):
    """The chosen staff member may not take the cases of this AD (inactive, read-only,
    of another AD, or gone)."""


class AlreadyAssigned(TransitionNotAllowed):
    """The case is already this staff member's (or nobody's)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"le dossier est déjà assigné à {name}")
        self.name = name


def assign(
    tx: UnitOfWork,
    case: Case,
    actor: Actor,
    assignee_id: int | None,
    *,
    comment: str | None = None,
    payload: Mapping[str, Any] | None = None,
    known_as: str = "",
) -> str:
    """Give the locked ``case`` to ``assignee_id`` (``None``: to nobody); returns their
    name. ``known_as`` names an assignee whose row is gone; ``payload`` is added to the
    audit event's."""
    name = NOBODY
    if assignee_id is not None:
        assignee = tx.session.get(StaffUser, assignee_id)
        name = assignee.full_name if assignee else known_as
        if not can_act_on(assignee, case.ad_id):
            raise AssigneeRefused(f"{name} ne peut pas traiter les dossiers de {case.ad.code}")
    if case.assignee_id == assignee_id:
        raise AlreadyAssigned(name)
    case.assignee_id = assignee_id
    case.version += 1
    case.updated_at = tx.now
    note = f"Assigné à {name}."
    tx.record(
        case,
        actor,
        kind="assign",
        from_state=case.state,
        to_state=case.state,
        payload={"assignee_id": assignee_id, **(payload or {})},
        comment=f"{note} {comment}" if comment else note,
    )
    return name
