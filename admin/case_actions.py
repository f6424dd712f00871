"""What staff can do to a case, each in one engine transaction (locked, audited,
published on commit): fire a trigger, retry a failed step, fix a refused email, assign,
comment, open and close tasks.

Every function locks the case first, checks it is in the staff member's scope and still
at the version their page showed; any error rolls the whole transaction back.
"""

from __future__ import annotations

from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from admin.access import can_see_ad
from web.auth import StaffPrincipal
from web.runtime import Runtime
from workflows.engine import steps
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import (
    CaseNotFound,
    TransitionNotAllowed,
    ValidationError,
    VersionConflict,
)
from workflows.models import Case, Mandataire, StaffRole, StaffUser, Step, Task, TaskStatus
from workflows.processes.invitation.definition import PROCESS as INVITATION

STALE = (
    "Ce dossier vient d'être modifié par quelqu'un d'autre. "
    "Rechargez la page pour voir son état actuel."
)


def _lock(tx: UnitOfWork, principal: StaffPrincipal, case_id: int, version: int) -> Case:
    case = tx.lock(case_id)
    if not can_see_ad(principal, case.ad_id):
        raise CaseNotFound(f"Dossier {case_id} introuvable.")
    if case.version != version:
        raise VersionConflict(STALE)
    return case


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
        _lock(tx, principal, case_id, version)
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
        case = _lock(tx, principal, case_id, version)
        step = tx.session.get(Step, step_id)
        if step is None or step.case_id != case.id:
            raise TransitionNotAllowed("Étape introuvable.")
        steps.retry(tx, step_id, Actor.staff(principal), comment)
        return rt.engine.definition(case.process).step_by_name[step.name].label


def fix_email(
    rt: Runtime,
    principal: StaffPrincipal,
    case_id: int,
    version: int,
    new_email: str,
    comment: str | None,
) -> str:
    """Correct the refused address of a ``bounced`` invitation and resend it, together.

    Returns the new address. Raises :class:`ValidationError` when the address is not
    acceptable (syntax, academic domain of the AD, already someone else's).
    """
    with rt.engine.transaction() as tx:
        case = _lock(tx, principal, case_id, version)
        if case.process != INVITATION or case.state != "bounced":
            raise TransitionNotAllowed(
                "La correction d'email n'est possible que pour une invitation refusée "
                "par le serveur de messagerie."
            )
        mandataire = tx.session.get(Mandataire, case.data.get("mandataire_id"))
        if mandataire is None or mandataire.coop_id != case.coop_id:
            raise TransitionNotAllowed("Aucun mandataire n'est rattaché à ce dossier.")
        old = mandataire.email
        email = check_new_email(tx, new_email, mandataire, case.coop.ad.academic_domains)
        mandataire.email = email
        tx.session.flush()
        note = f"Email corrigé : {old} → {email}."
        tx.fire(
            case.id,
            "resend",
            actor=Actor.staff(principal),
            expected_version=version,
            payload={"old_email": old, "new_email": email},
            comment=f"{note} {comment}" if comment else note,
        )
        return email


def check_new_email(tx: UnitOfWork, raw: str, mandataire: Mandataire, domains: list[str]) -> str:
    """The normalised address, or :class:`ValidationError` with every problem in French."""
    try:
        valid = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValidationError(f"L'adresse « {raw.strip()} » n'est pas valide.") from None
    email = valid.normalized.lower()
    errors = []
    allowed = [d.lower() for d in domains]
    if valid.domain.lower() not in allowed:
        errors.append(
            "L'adresse doit être sur un domaine académique de l'AD "
            f"({', '.join(allowed) or 'aucun domaine configuré'})."
        )
    if email == mandataire.email.lower():
        errors.append("C'est l'adresse qui a été refusée : saisissez l'adresse corrigée.")
    taken = tx.session.scalar(
        select(func.count())
        .select_from(Mandataire)
        .where(func.lower(Mandataire.email) == email, Mandataire.id != mandataire.id)
    )
    if taken:
        errors.append("Cette adresse est déjà celle d'un autre mandataire.")
    if errors:
        raise ValidationError(errors)
    return email


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
        case = _lock(tx, principal, case_id, version)
        name = "personne"
        if assignee_id is not None:
            assignee = tx.session.get(StaffUser, assignee_id)
            if (
                assignee is None
                or not assignee.is_active
                or assignee.role == StaffRole.READONLY.value
                or not (assignee.role == StaffRole.NATIONAL.value or assignee.ad_id == case.ad_id)
            ):
                raise ValidationError("Ce membre de l'équipe ne peut pas traiter ce dossier.")
            name = assignee.full_name
        if case.assignee_id == assignee_id:
            raise TransitionNotAllowed(f"Le dossier est déjà assigné à {name}.")
        case.assignee_id = assignee_id
        case.version += 1
        case.updated_at = tx.now
        note = f"Assigné à {name}."
        tx.record(
            case,
            Actor.staff(principal),
            kind="assign",
            payload={"assignee_id": assignee_id},
            comment=f"{note} {comment}" if comment else note,
        )
        return name


def annotate(rt: Runtime, principal: StaffPrincipal, case_id: int, text: str) -> None:
    """A comment in the case's history; it changes nothing else (no version check)."""
    with rt.engine.transaction() as tx:
        case = tx.lock(case_id)
        if not can_see_ad(principal, case.ad_id):
            raise CaseNotFound(f"Dossier {case_id} introuvable.")
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
        case = tx.lock(case_id)
        if not can_see_ad(principal, case.ad_id):
            raise CaseNotFound(f"Dossier {case_id} introuvable.")
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
        found = tx.session.get(Task, task_id)
        if found is None or not can_see_ad(principal, found.ad_id):
            raise CaseNotFound("Tâche introuvable.")
        case = tx.lock(found.case_id)  # the case first, as everywhere
        task = tx.session.get(Task, task_id, with_for_update=True, populate_existing=True)
        assert task is not None
        if task.status != TaskStatus.OPEN.value:
            raise TransitionNotAllowed("Cette tâche est déjà fermée.")
        tx.close_task(case, task, Actor.staff(principal), comment)
        return case.id


def take_task(rt: Runtime, principal: StaffPrincipal, task_id: int) -> int:
    """« M'assigner » a task; returns its case id."""
    with rt.engine.transaction() as tx:
        found = tx.session.get(Task, task_id)
        if found is None or not can_see_ad(principal, found.ad_id):
            raise CaseNotFound("Tâche introuvable.")
        case = tx.lock(found.case_id)
        task = tx.session.get(Task, task_id, with_for_update=True, populate_existing=True)
        assert task is not None
        if task.status != TaskStatus.OPEN.value:
            raise TransitionNotAllowed("Cette tâche est déjà fermée.")
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
