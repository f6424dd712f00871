"""What staff can do to a case, each in one engine transaction (locked, audited,
published on commit): fire a trigger, retry a failed step, assign, comment, open and
close tasks; and what a process's own actions declare (:class:`StaffAction`, in
``admin/processes``).

Every function locks the case first, checks it is in the staff member's scope and still
at the version their page showed; any error rolls the whole transaction back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from web.auth import StaffPrincipal
from web.runtime import Runtime
from workflows.engine import assignment, steps
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import (
    CaseNotFound,
    TransitionNotAllowed,
    ValidationError,
    VersionConflict,
)
from workflows.models import Case, Step, Task, TaskStatus
from workflows.scope import can_see

STALE = (
    "Ce dossier vient d'être modifié par quelqu'un d'autre. "
    "Rechargez la page pour voir son état actuel."
)


@dataclass(frozen=True)
class StaffAction:
    """A staff action of one process with its form on the case page (« Corriger l'email
    puis renvoyer »); its module in ``admin/processes`` declares it and its route."""

    #: Its name in the module's ``ACTIONS``, as a stuck rule recommends it.
    name: str
    #: The form's field prefix; the form is ``#action-<prefix>`` on the page.
    prefix: str
    form: type[Any]
    #: The endpoint the form posts to, in the case view (``.fix_email``).
    endpoint: str
    #: Whether the case offers it now (its state).
    offered: Callable[[Case], bool]
    #: Does it from the valid form; returns what was done, in French. Raises
    #: :class:`ValidationError` (shown under ``field``) or a :class:`ConflictError`.
    perform: Callable[[Runtime, StaffPrincipal, int, Any], str]
    field: str
    #: Fills the form from the case before it is shown or read: its current values when
    #: ``fresh`` (a blank form), the choices that depend on the case always.
    prepare: Callable[[Any, Session, Case, bool], None] | None = None

    @property
    def anchor(self) -> str:
        return f"action-{self.prefix}"


def lock_visible(
    tx: UnitOfWork, principal: StaffPrincipal, case_id: int, version: int | None = None
) -> Case:
    """The case, locked, if it is in the staff member's scope (and, given ``version``,
    still at the version their page showed)."""
    case = tx.lock(case_id)
    if not can_see(principal, case.ad_id):
        raise CaseNotFound(f"Dossier {case_id} introuvable.")
    if version is not None and case.version != version:
        raise VersionConflict(STALE)
    return case


def _open_task(tx: UnitOfWork, principal: StaffPrincipal, task_id: int) -> tuple[Case, Task]:
    """An open task in scope and its case, both locked (the case first, as everywhere)."""
    found = tx.session.get(Task, task_id)
    if found is None or not can_see(principal, found.ad_id):
        raise CaseNotFound("Tâche introuvable.")
    case = tx.lock(found.case_id)
    task = tx.session.get(Task, task_id, with_for_update=True, populate_existing=True)
    assert task is not None
    if task.status != TaskStatus.OPEN.value:
        raise TransitionNotAllowed("Cette tâche est déjà fermée.")
    return case, task


def fire(
    rt: Runtime,
    principal: StaffPrincipal,
    case_id: int,
    trigger: str,
    version: int,
    comment: str,
) -> str:
    """Fire ``trigger`` as this staff member; returns the French label of the new state."""
    with rt.engine.transaction() as tx:
        lock_visible(tx, principal, case_id, version)
        case = tx.fire(
            case_id,
            trigger,
            actor=Actor.staff(principal),
            expected_version=version,
            comment=comment,
        )
        return rt.engine.definition(case.process).label(case.state)


def retry_step(
    rt: Runtime,
    principal: StaffPrincipal,
    case_id: int,
    step_id: int,
    version: int,
    comment: str,
) -> str:
    """Run a failed step again; returns the step's French label."""
    with rt.engine.transaction() as tx:
        case = lock_visible(tx, principal, case_id, version)
        step = tx.session.get(Step, step_id)
        if step is None or step.case_id != case.id:
            raise TransitionNotAllowed("Étape introuvable.")
        steps.retry(tx, step_id, Actor.staff(principal), comment)
        return rt.engine.definition(case.process).step_by_name[step.name].label


def assign(
    rt: Runtime,
    principal: StaffPrincipal,
    case_id: int,
    version: int,
    assignee_id: int | None,
    comment: str | None,
) -> str:
    """Give the case to a staff member who can see it (or to nobody); returns their name."""
    with rt.engine.transaction() as tx:
        case = lock_visible(tx, principal, case_id, version)
        try:
            return assignment.assign(tx, case, Actor.staff(principal), assignee_id, comment=comment)
        except assignment.AssigneeRefused:
            raise ValidationError("Ce membre de l'équipe ne peut pas traiter ce dossier.") from None
        except assignment.AlreadyAssigned as exc:
            # Shown under the select, the comment kept: choose someone else.
            raise ValidationError(f"Le dossier est déjà assigné à {exc.name}.") from None


def annotate(rt: Runtime, principal: StaffPrincipal, case_id: int, text: str) -> None:
    """A comment in the case's history; it changes nothing else (no version check)."""
    with rt.engine.transaction() as tx:
        case = lock_visible(tx, principal, case_id)
        tx.comment(case, Actor.staff(principal), text)


def open_task(
    rt: Runtime,
    principal: StaffPrincipal,
    case_id: int,
    title: str,
    due_at: datetime,
    note: str | None,
) -> None:
    """A task opened by hand on a case (« Rappeler l'école jeudi »)."""
    with rt.engine.transaction() as tx:
        case = lock_visible(tx, principal, case_id)
        if due_at <= tx.now:
            raise ValidationError("L'échéance doit être dans le futur.")
        tx.open_task(
            case,
            kind="manual",
            title=title,
            due_at=due_at,
            created_by=Actor.staff(principal),
            note=note,
        )


def close_task(rt: Runtime, principal: StaffPrincipal, task_id: int, comment: str) -> int:
    """Mark an open task done; returns its case id."""
    with rt.engine.transaction() as tx:
        case, task = _open_task(tx, principal, task_id)
        tx.close_task(case, task, Actor.staff(principal), comment)
        return case.id


def take_task(rt: Runtime, principal: StaffPrincipal, task_id: int) -> int:
    """« M'assigner » a task; returns its case id."""
    with rt.engine.transaction() as tx:
        case, task = _open_task(tx, principal, task_id)
        if task.assignee_id == principal.id:
            raise TransitionNotAllowed("Cette tâche vous est déjà assignée.")
        task.assignee_id = principal.id
        tx.record(
            case,
            Actor.staff(principal),
            kind="assign",
            payload={"task_id": task.id},
            comment=f"Tâche « {task.title} » prise par {principal.full_name}.",
        )
        return case.id
