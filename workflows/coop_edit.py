"""Staff correct a coop and its mandataire from the coop's page: the import's checks
(``coop_csv.clean_cell``), one audit line on each of the coop's cases, the invitation
sent again when the address of someone without an account changes, and the tasks staff
opened by hand for this closed with it if they say so.

The caller locks the coop's cases and checks the staff member's scope
(``admin/coop_edit.py``); this module knows no web.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.coop_csv import COLUMNS, Column, clean_cell
from workflows.engine.actor import Actor
from workflows.engine.errors import TransitionNotAllowed, ValidationError, VersionConflict
from workflows.engine.unit_of_work import UnitOfWork
from workflows.models import Case, Coop, Mandataire, Task, TaskStatus
from workflows.processes.invitation.address_change import resend_to_new_address
from workflows.processes.invitation.definition import PROCESS as INVITATION

#: The columns staff may correct (the affiliation number is the coop's key: not here).
EDITABLE: tuple[Column, ...] = tuple(c for c in COLUMNS if c.field != "affiliation_number")
#: The mandataire's fields among them, and their name on ``Mandataire``.
PERSON_FIELDS = {
    "mandataire_first_name": "first_name",
    "mandataire_last_name": "last_name",
    "mandataire_email": "email",
}
STALE = (
    "La coopérative vient d'être modifiée par quelqu'un d'autre : rechargez la page "
    "pour voir ses données actuelles, puis refaites votre correction."
)
TAKEN = "Cette adresse est déjà celle d'un autre mandataire."
ACCOUNT_EMAIL = (
    "Le mandataire a déjà un compte : son adresse de connexion ne se change pas ici "
    "(un changement de mandataire passe par l'affiliation)."
)
NOTHING = "Aucune modification : les valeurs saisies sont celles déjà enregistrées."


class FieldsRefused(ValidationError):
    """Input refused, each French sentence under the field it is about."""

    def __init__(self, by_field: dict[str, list[str]]) -> None:
        self.by_field = by_field
        super().__init__([m for messages in by_field.values() for m in messages])


@dataclass
class EditReport:
    """What a correction changed: ``changes`` are (label, before, after)."""

    changes: list[tuple[str, str, str]] = field(default_factory=list)
    resent: bool = False
    tasks_closed: int = 0

    def summary(self) -> str:
        what = " ; ".join(f"{label} : « {old} » → « {new} »" for label, old, new in self.changes)
        return f"Coopérative corrigée. {what}."


def values_of(coop: Coop, person: Mandataire | None) -> dict[str, str]:
    """The editable values as the form shows them, by ``CoopRow`` field."""
    values = {
        c.field: getattr(coop, c.field) or "" for c in EDITABLE if c.field not in PERSON_FIELDS
    }
    for name, attribute in PERSON_FIELDS.items():
        values[name] = getattr(person, attribute) if person is not None else ""
    return values


def fingerprint(values: dict[str, str]) -> str:
    """What the form saw, to tell whether someone changed the coop since."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:32]


def edit_coop(
    tx: UnitOfWork,
    coop: Coop,
    person: Mandataire | None,
    raw: dict[str, str],
    *,
    seen: str,
    actor: Actor,
    comment: str | None = None,
    close_tasks: Collection[int] = (),
) -> EditReport:
    """Apply staff's corrections to ``coop`` (locked) and ``person`` (its mandataire).

    Raises :class:`FieldsRefused` when a value fails the import's checks or the address
    is someone else's, :class:`VersionConflict` when the coop changed since the form was
    shown (``seen``); nothing is written then."""
    before = values_of(coop, person)
    if fingerprint(before) != seen:
        raise VersionConflict(STALE)
    cleaned: dict[str, str] = {}
    refused: dict[str, list[str]] = {}
    for column in EDITABLE:
        value, problem = clean_cell(column, raw.get(column.field, ""), coop.ad)
        cleaned[column.field] = value
        if problem:
            refused.setdefault(column.field, []).append(problem[0].upper() + problem[1:] + ".")
    changed = [c for c in EDITABLE if cleaned[c.field] != before[c.field]]
    person_changed = {c.field for c in changed if c.field in PERSON_FIELDS}
    if person is None and person_changed:
        refused.setdefault("mandataire_email", []).append(
            "Cette coopérative n'a pas de mandataire à corriger."
        )
    elif (
        person is not None
        and person.password_hash is not None
        and "mandataire_email" in person_changed
        and cleaned["mandataire_email"] != person.email.lower()
        and not refused.get("mandataire_email")  # a wrong address: that is said first
    ):
        refused.setdefault("mandataire_email", []).append(ACCOUNT_EMAIL)
    if (
        person is not None
        and "mandataire_email" in person_changed
        and not refused.get("mandataire_email")
    ):
        taken = tx.session.scalar(
            select(func.count())
            .select_from(Mandataire)
            .where(
                func.lower(Mandataire.email) == cleaned["mandataire_email"],
                Mandataire.id != person.id,
            )
        )
        if taken:
            refused.setdefault("mandataire_email", []).append(TAKEN)
    if refused:
        raise FieldsRefused(refused)
    if not changed:
        raise ValidationError(NOTHING)

    report = EditReport(
        changes=[(c.label.capitalize(), before[c.field], cleaned[c.field]) for c in changed]
    )
    for column in changed:
        if column.field in PERSON_FIELDS:
            assert person is not None
            setattr(person, PERSON_FIELDS[column.field], cleaned[column.field])
        else:
            setattr(coop, column.field, cleaned[column.field])
    coop.updated_at = tx.now
    tx.session.flush()

    cases = list(tx.session.scalars(select(Case).where(Case.coop_id == coop.id).order_by(Case.id)))
    note = report.summary() + (f" {comment}" if comment else "")
    payload = {c.field: {"avant": before[c.field], "après": cleaned[c.field]} for c in changed}
    for case in cases:
        tx.record(case, actor, kind="coop_edit", payload=payload, comment=note)
    if person is not None and "mandataire_email" in person_changed:
        invitation = next(
            (
                c
                for c in reversed(cases)
                if c.process == INVITATION and c.data.get("mandataire_id") == person.id
            ),
            None,
        )
        report.resent = resend_to_new_address(
            tx,
            invitation,
            person,
            actor=actor,
            comment="Email du mandataire corrigé sur la page de la coopérative.",
            payload={"old_email": before["mandataire_email"], "new_email": person.email},
        )
    report.tasks_closed = close_manual_tasks(
        tx, close_tasks, {c.id: c for c in cases}, actor, "Fait en corrigeant la coopérative."
    )
    return report


def open_manual_tasks(session: Session, case_ids: Collection[int]) -> list[Task]:
    """The open tasks staff opened by hand on these cases, oldest due first."""
    if not case_ids:
        return []
    return list(
        session.scalars(
            select(Task)
            .where(
                Task.case_id.in_(sorted(case_ids)),
                Task.kind == "manual",
                Task.status == TaskStatus.OPEN.value,
            )
            .order_by(Task.due_at, Task.id)
        )
    )


def close_manual_tasks(
    tx: UnitOfWork,
    task_ids: Collection[int],
    cases: dict[int, Case],
    actor: Actor,
    comment: str,
) -> int:
    """Close the chosen open tasks opened by hand on ``cases`` (locked); a task that is
    not one of them, or already closed, is refused (someone else closed it meanwhile)."""
    if not task_ids:
        return 0
    tasks = {
        t.id: t
        for t in tx.session.scalars(
            select(Task).where(Task.id.in_(sorted(task_ids))).with_for_update()
        )
    }
    for task_id in task_ids:
        task = tasks.get(task_id)
        if task is None or task.case_id not in cases or task.kind != "manual":
            raise TransitionNotAllowed("Tâche introuvable sur ce dossier.")
        if task.status != TaskStatus.OPEN.value:
            raise TransitionNotAllowed(f"La tâche « {task.title} » vient d'être fermée.")
        tx.close_task(cases[task.case_id], task, actor, comment)
    return len(tasks)


def mandataire_of(session: Session, coop: Coop) -> Mandataire | None:
    """The mandataire the coop's latest invitation is for, else its latest one (as the
    import decides whom a row corrects)."""
    people = sorted(coop.mandataires, key=lambda m: m.id)
    wanted = session.scalar(
        select(Case.data)
        .where(Case.coop_id == coop.id, Case.process == INVITATION)
        .order_by(Case.id.desc())
        .limit(1)
    )
    wanted_id = (wanted or {}).get("mandataire_id")
    return next((m for m in people if m.id == wanted_id), people[-1] if people else None)
