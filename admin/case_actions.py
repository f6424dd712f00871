"""What staff can do to a case, each in one engine transaction (locked, audited,
published on commit): fire a trigger, retry a failed step, fix a refused email.

Every function locks the case first, checks it is in the staff member's scope and still
at the version their page showed; any error rolls the whole transaction back.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from admin.access import can_see_ad
from coopflow.runtime import Runtime
from web.auth import StaffPrincipal
from workflows import steps
from workflows.engine import Actor, UnitOfWork
from workflows.errors import CaseNotFound, TransitionNotAllowed, ValidationError, VersionConflict
from workflows.invitation import PROCESS as INVITATION
from workflows.models import Case, Mandataire, Step

STALE = (
    "Ce dossier vient d'être modifié par quelqu'un d'autre. "
    "Rechargez la page pour voir son état actuel."
)


def _lock(tx: UnitOfWork, principal: StaffPrincipal, case_id: int, version: int) -> Case:
    case = tx.lock(case_id)
    if not can_see_ad(principal, case.coop.ad_id):
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
