"""The invitation's staff actions in the back-office: « Corriger l'email puis renvoyer »,
the recommended action of an address the mail server refused (``invitation_bounced``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_admin import expose
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from wtforms import EmailField, StringField

from admin.case_actions import StaffAction, lock_visible
from admin.coop_edit import close_tasks_field, task_choices
from admin.forms import CaseActionForm, required_comment
from web.auth import StaffPrincipal
from web.forms import EMAIL_TOO_LONG, text_field
from web.runtime import Runtime
from workflows.coop_edit import close_manual_tasks, open_manual_tasks
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import TransitionNotAllowed, ValidationError
from workflows.models import Case, Mandataire
from workflows.processes.invitation.definition import BOUNCED, FIX_EMAIL, PROCESS

#: The staff actions the definition's stuck rules recommend beyond its triggers.
ACTIONS = {FIX_EMAIL: "Corriger l'email puis renvoyer"}
TAKEN = "Cette adresse est déjà celle d'un autre mandataire."
NAME_TOO_LONG = "100 caractères au plus."


class FixEmailForm(CaseActionForm):
    email = text_field(
        EmailField,
        "Nouvelle adresse du mandataire",
        max_length=254,
        too_long=EMAIL_TOO_LONG,
        missing="Saisissez la nouvelle adresse email.",
    )
    #: The address is often someone else's: the name the email greets comes with it
    #: (prefilled with the current one; left empty, it stays as it is).
    first_name = text_field(
        StringField, "Prénom du mandataire", max_length=100, too_long=NAME_TOO_LONG
    )
    last_name = text_field(StringField, "Nom du mandataire", max_length=100, too_long=NAME_TOO_LONG)
    close_tasks = close_tasks_field()
    comment = required_comment()


def _prepare(form: Any, session: Session, case: Case, fresh: bool) -> None:
    """The mandataire's current name in a blank form; the case's hand-opened tasks."""
    form.close_tasks.choices = task_choices(open_manual_tasks(session, [case.id]))
    mandataire = session.get(Mandataire, case.data.get("mandataire_id"))
    if fresh and mandataire is not None:
        form.first_name.data = mandataire.first_name
        form.last_name.data = mandataire.last_name


def correct_and_resend(
    rt: Runtime,
    principal: StaffPrincipal,
    case_id: int,
    version: int,
    new_email: str,
    comment: str | None,
    *,
    name: tuple[str, str] | None = None,
    close_tasks: Collection[int] = (),
) -> str:
    """Correct the refused address of a ``bounced`` invitation and resend it, together.

    Returns the new address. Raises :class:`ValidationError` when the address is not
    acceptable (syntax, academic domain of the AD, already someone else's).
    """
    with rt.engine.transaction() as tx:
        case = lock_visible(tx, principal, case_id, version)
        if case.process != PROCESS or case.state != BOUNCED:
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
        note = f"Email corrigé : {old} → {email}."
        if name is not None:
            first, last = (" ".join(part.split()) for part in name)
            first, last = first or mandataire.first_name, last or mandataire.last_name
            if (first, last) != (mandataire.first_name, mandataire.last_name):
                note += f" Nom corrigé : {mandataire.full_name} → {first} {last}."
                mandataire.first_name, mandataire.last_name = first, last
        tx.session.flush()
        tx.fire(
            case.id,
            "resend",
            actor=Actor.staff(principal),
            expected_version=version,
            payload={"old_email": old, "new_email": email},
            comment=f"{note} {comment}" if comment else note,
        )
        close_manual_tasks(
            tx, close_tasks, {case.id: case}, Actor.staff(principal), "Fait en corrigeant l'email."
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
        errors.append(TAKEN)
    if errors:
        raise ValidationError(errors)
    return email


def _fix_email(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    try:
        email = correct_and_resend(
            rt,
            principal,
            case_id,
            form.version.data,
            form.email.data or "",
            form.comment.data,
            name=(form.first_name.data or "", form.last_name.data or ""),
            close_tasks=form.close_tasks.data or (),
        )
    except IntegrityError:  # another request took the address in the meantime
        raise ValidationError(TAKEN) from None
    return f"Adresse corrigée ({email}) : l'invitation est renvoyée."


def _bounced(case: Case) -> bool:
    return case.state == BOUNCED


FIX = StaffAction(
    FIX_EMAIL,
    prefix="fix",
    form=FixEmailForm,
    endpoint=".fix_email",
    offered=_bounced,
    perform=_fix_email,
    field="email",
    prepare=_prepare,
)
#: The actions with a form on the case page, in the order shown.
FORMS = (FIX,)


class Routes:
    """The routes of :data:`FORMS`, mixed into :class:`admin.cases.CaseView`."""

    @expose("/<int:case_id>/corriger-email", methods=("POST",))
    def fix_email(self, case_id: int) -> Any:
        return self.staff_action(case_id, FIX)  # type: ignore[attr-defined]
