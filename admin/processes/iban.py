"""The iban's staff tasks in the back-office, each a page of its own
(:mod:`admin.processes.task_pages`):

- « Vérifier le RIB déposé » (``needs_review``, recommended once its task is overdue:
  ``review_rib``): the uploaded RIB beside what the mandataire typed, the full IBAN (staff
  of the coop's AD may see it), the automatic checks' doubts; « Approuver », « Refuser »
  with the reasons the mandataire reads (kept on the RIB as ``{field: message}``, as the
  checks' are), or « Demander un nouveau RIB ».
- « Traiter le signalement » (``mismatch_reported``, ``resolve_mismatch``): the
  mandataire's message and the certified account; « Le compte est le bon » or « Demander
  un nouveau RIB ».
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for
from flask_admin import expose
from wtforms import StringField, TextAreaField

from admin.access import acting_staff
from admin.case_actions import StaffAction, lock_visible
from admin.forms import COMMENT_TOO_LONG, CaseActionForm, required_comment
from admin.processes import task_pages
from admin.processes.iban_shown import (
    case_account,
    inline,
    mismatch_context,
    review_context,
    rib_document,
)
from admin.processes.task_pages import TaskPage, Ticked
from web.auth import StaffPrincipal
from web.forms import text_field
from web.runtime import Runtime
from workflows.engine.engine import Actor
from workflows.engine.errors import TransitionNotAllowed
from workflows.models import BankAccount, Case
from workflows.processes.iban.accounts import certified_account
from workflows.processes.iban.definition import (
    MISMATCH_REPORTED,
    NEEDS_REVIEW,
    PROCESS,
    RESOLVE_MISMATCH,
    REVIEW_RIB,
)
from workflows.processes.iban.rib_checks import RIB_TOO_OLD, mask_iban

#: The staff actions the definition's stuck rules recommend beyond its triggers.
ACTIONS = {REVIEW_RIB: "Vérifier le RIB", RESOLVE_MISMATCH: "Traiter le signalement"}

#: ``bank_accounts.status`` values this module reads or writes.
UNDER_REVIEW, VERIFIED, REFUSED = "needs_review", "verified", "rejected"
OTHER = "autre"
#: Why staff refuse a RIB: (code, what staff tick, the field it is about, what the
#: mandataire reads next to that field on the portal and in the email).
REFUSALS = (
    (
        "illisible",
        "RIB illisible",
        "document",
        "Le RIB joint est illisible : joignez un scan net ou le PDF fourni par votre banque.",
    ),
    (
        "titulaire",
        "Titulaire différent de la coopérative",
        "holder",
        "Le titulaire de ce compte n'est pas la coopérative : joignez le RIB du compte de "
        "la coopérative (à son nom ou à celui de l'OCCE).",
    ),
    ("ancien", "RIB de plus de 12 mois", "rib_date", RIB_TOO_OLD),
    (
        "iban",
        "IBAN différent du RIB joint",
        "iban",
        "L'IBAN saisi n'est pas celui du RIB joint : saisissez-le exactement comme il "
        "figure sur le RIB.",
    ),
    (OTHER, "Autre motif (à préciser)", "other", ""),
)
OTHER_MISSING = "Précisez l'autre motif : le mandataire le lira."
OTHER_UNTICKED = "Cochez « Autre motif » pour envoyer ce motif au mandataire, ou effacez-le."
NO_FILE = "Ce dossier n'a pas de RIB déposé sous ce numéro."


# Forms ---------------------------------------------------------------------------------


class ApproveForm(CaseActionForm):
    comment = text_field(
        TextAreaField,
        "Ce que vous avez vérifié",
        max_length=2000,
        too_long=COMMENT_TOO_LONG,
        missing="Indiquez ce que vous avez vérifié : c'est enregistré dans l'historique.",
    )


class RefuseForm(CaseActionForm):
    reasons = Ticked(
        "Motifs du refus (le mandataire les lit)",
        [(code, label) for code, label, _, _ in REFUSALS],
        "Cochez au moins un motif de refus : le mandataire le lira.",
    )
    other = text_field(
        StringField,
        "Autre motif",
        max_length=500,
        too_long="Motif trop long (500 caractères au plus).",
    )
    comment = text_field(
        TextAreaField,
        "Message au mandataire (facultatif, il le lit dans l'email)",
        max_length=2000,
        too_long=COMMENT_TOO_LONG,
    )

    def validate(self, extra_validators: Any = None) -> bool:
        """« Autre motif » ticked and said, or neither (a text alone is not sent)."""
        valid = bool(super().validate(extra_validators))
        ticked = OTHER in (self.reasons.data or ())
        said = bool((self.other.data or "").strip())
        if ticked != said and not self.other.errors:
            self.other.errors = [OTHER_MISSING if ticked else OTHER_UNTICKED]
            return False
        return valid


class NewRibForm(CaseActionForm):
    comment = required_comment()


class ConfirmAccountForm(CaseActionForm):
    comment = text_field(
        TextAreaField,
        "Ce que vous avez vérifié",
        max_length=2000,
        too_long=COMMENT_TOO_LONG,
        missing="Indiquez ce que vous avez vérifié : c'est enregistré dans l'historique.",
    )


# What each form does -------------------------------------------------------------------


def _reviewed(tx: Any, principal: StaffPrincipal, case_id: int, version: int) -> BankAccount:
    """The RIB waiting for review of a ``needs_review`` case, its case locked (in scope,
    at ``version``), the RIB too."""
    case = lock_visible(tx, principal, case_id, version)
    account = case_account(tx.session, case, lock=True)
    if case.process != PROCESS or account is None or account.status != UNDER_REVIEW:
        raise TransitionNotAllowed(
            "Ce RIB n'attend plus de vérification : rechargez la page du dossier."
        )
    return account


def _decided(account: BankAccount, decision: str, principal: StaffPrincipal, at: Any) -> None:
    """The review's result, beside the checks' reasons (``review``)."""
    account.review = {
        **(account.review or {}),
        "decision": decision,
        "by": principal.full_name,
        "at": at.isoformat(),
    }


def approve(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    with rt.engine.transaction() as tx:
        account = _reviewed(tx, principal, case_id, form.version.data)
        account.status = VERIFIED
        _decided(account, "approved", principal, tx.now)
        tx.fire(
            case_id,
            "approve",
            actor=Actor.staff(principal),
            expected_version=form.version.data,
            payload={"bank_account_id": account.id, "iban": mask_iban(account.iban)},
            comment=form.comment.data,
        )
    return "RIB approuvé : le compte va être certifié auprès de Swan."


def refusal_errors(codes: list[str], other: str) -> dict[str, str]:
    """What the mandataire reads, by field, for the ticked reasons (« autre »: its text)."""
    errors = {field: message for code, _, field, message in REFUSALS if code in codes and message}
    if OTHER in codes and other.strip():
        errors["other"] = " ".join(other.split())
    return errors


def refuse(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    codes = list(form.reasons.data or ())
    errors = refusal_errors(codes, form.other.data or "")
    labels = [label for code, label, _, _ in REFUSALS if code in codes and code != OTHER]
    if "other" in errors:
        labels.append(errors["other"])
    message = (form.comment.data or "").strip()
    comment = "Motifs : " + " ; ".join(labels)
    comment += "" if comment.endswith((".", "!", "?")) else "."
    with rt.engine.transaction() as tx:
        account = _reviewed(tx, principal, case_id, form.version.data)
        account.status = REFUSED
        account.errors = errors
        _decided(account, "refused", principal, tx.now)
        tx.fire(
            case_id,
            "refuse",
            actor=Actor.staff(principal),
            expected_version=form.version.data,
            payload={"bank_account_id": account.id, "errors": errors, "message": message},
            comment=f"{comment} Message au mandataire : {message}" if message else comment,
        )
    return "RIB refusé : le mandataire reçoit les motifs et peut en déposer un nouveau."


def ask_new_rib(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    with rt.engine.transaction() as tx:
        account = _reviewed(tx, principal, case_id, form.version.data)
        account.status = REFUSED
        _decided(account, "new_rib_asked", principal, tx.now)
        tx.fire(
            case_id,
            "ask_new_rib",
            actor=Actor.staff(principal),
            expected_version=form.version.data,
            payload={"bank_account_id": account.id},
            comment=form.comment.data,
        )
    return "Nouveau RIB demandé : le dossier attend le dépôt du mandataire."


def _reported(tx: Any, principal: StaffPrincipal, case_id: int, version: int) -> Case:
    case = lock_visible(tx, principal, case_id, version)
    if case.process != PROCESS or case.state != MISMATCH_REPORTED:
        raise TransitionNotAllowed("Ce signalement est déjà traité : rechargez la page du dossier.")
    return case


def confirm_account(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    with rt.engine.transaction() as tx:
        case = _reported(tx, principal, case_id, form.version.data)
        account = certified_account(tx.session, case.coop_id)
        tx.fire(
            case_id,
            "confirm_account",
            actor=Actor.staff(principal),
            expected_version=form.version.data,
            payload={"bank_account_id": account.id if account else None},
            comment=form.comment.data,
        )
    return "Compte confirmé : le signalement est clos."


def mismatch_new_rib(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    with rt.engine.transaction() as tx:
        _reported(tx, principal, case_id, form.version.data)
        tx.fire(
            case_id,
            "ask_new_rib",
            actor=Actor.staff(principal),
            expected_version=form.version.data,
            comment=form.comment.data,
        )
    return "Nouveau RIB demandé : le dossier attend le dépôt du mandataire."


# Pages and routes ----------------------------------------------------------------------


def _in(state: str) -> Any:
    return lambda case: case.process == PROCESS and case.state == state


def _form(prefix: str, form: type[Any], endpoint: str, perform: Any, name: str) -> StaffAction:
    return StaffAction(
        name,
        prefix=prefix,
        form=form,
        endpoint=endpoint,
        offered=lambda case: True,
        perform=perform,
        field="comment",
    )


REVIEW = TaskPage(
    REVIEW_RIB,
    "Vérifier le RIB déposé",
    endpoint=".review_rib",
    template="coopflow_admin/processes/iban_review.html",
    offered=_in(NEEDS_REVIEW),
    forms=(
        _form("approve", ApproveForm, ".rib_approve", approve, REVIEW_RIB),
        _form("refuse", RefuseForm, ".rib_refuse", refuse, REVIEW_RIB),
        _form("new_rib", NewRibForm, ".rib_ask_new", ask_new_rib, REVIEW_RIB),
    ),
    context=review_context,
    triggers=("approve", "refuse", "ask_new_rib"),
)
MISMATCH = TaskPage(
    RESOLVE_MISMATCH,
    "Traiter le signalement du compte bancaire",
    endpoint=".mismatch",
    template="coopflow_admin/processes/iban_mismatch.html",
    offered=_in(MISMATCH_REPORTED),
    forms=(
        _form(
            "confirm", ConfirmAccountForm, ".mismatch_confirm", confirm_account, RESOLVE_MISMATCH
        ),
        _form("new_rib", NewRibForm, ".mismatch_new_rib", mismatch_new_rib, RESOLVE_MISMATCH),
    ),
    context=mismatch_context,
    triggers=("confirm_account", "ask_new_rib"),
)
#: The tasks with a page, by the action a stuck rule recommends.
PAGES = (REVIEW, MISMATCH)


class Routes:
    """The routes of :data:`PAGES`, mixed into :class:`admin.cases.CaseView`."""

    @expose("/<int:case_id>/verifier-rib")
    def review_rib(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, REVIEW)

    @expose("/<int:case_id>/verifier-rib/approuver", methods=("POST",))
    def rib_approve(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, REVIEW, "approve")

    @expose("/<int:case_id>/verifier-rib/refuser", methods=("POST",))
    def rib_refuse(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, REVIEW, "refuse")

    @expose("/<int:case_id>/verifier-rib/nouveau-rib", methods=("POST",))
    def rib_ask_new(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, REVIEW, "new_rib")

    @expose("/<int:case_id>/rib/<int:document_id>")
    def rib_file(self, case_id: int, document_id: int) -> Any:
        """A RIB file of the case, for acting staff who see its AD: never another
        coop's, never a document that is not one of the case's RIBs."""
        acting_staff()
        case = self._visible_case(case_id)  # type: ignore[attr-defined]
        document = rib_document(self.session, case, document_id)  # type: ignore[attr-defined]
        if document is None:
            flash(NO_FILE, "error")
            return redirect(url_for(".case_page", case_id=case_id))
        return inline(document)

    @expose("/<int:case_id>/signalement")
    def mismatch(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, MISMATCH)

    @expose("/<int:case_id>/signalement/compte-confirme", methods=("POST",))
    def mismatch_confirm(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, MISMATCH, "confirm")

    @expose("/<int:case_id>/signalement/nouveau-rib", methods=("POST",))
    def mismatch_new_rib(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, MISMATCH, "new_rib")
