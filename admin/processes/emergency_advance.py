"""The emergency advance's staff tasks in the back-office, each a page of its own
(:mod:`admin.processes.task_pages`):

- « Examiner la demande d'avance » (``under_review``, task ``advance_review``): the
  request (project and its date, what it pays, the supplier and its whole IBAN, the
  amount beside the declared balance and the AD's cap) and its quote to open;
  « Accorder » or « Refuser » with the reason the mandataire reads. Only the president
  or treasurer of the coop's AD sees the buttons, and a decision posted by anyone else
  is refused (the engine's guard ``officer`` refuses it too). The decision is kept in
  ``case.data["review"]`` in the transaction that fires it.
- « Faire le virement de l'avance » (``signed``, task ``advance_transfer``): the day and
  reference of the transfer to the coop's account (``disburse``,
  ``case.data["disbursement"]``). Any of the AD's staff who act may record it: the
  officers decided, the transfer is an agent's work, as the affiliation payments are.
- « Enregistrer le remboursement » (``disbursed`` or ``overdue``, the stuck
  ``advance_overdue``'s action ``record_repayment``): day and reference of a repayment
  staff saw on the AD's account (``case.data["repayment"]``, source ``staff``); the
  transfer's funds repay it by themselves (an effect of ``banque_postale_transfer``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import flash, redirect, url_for
from flask_admin import expose
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin.access import acting_staff
from admin.case_actions import lock_visible
from admin.processes import task_pages
from admin.processes.iban_shown import grouped, inline
from admin.processes.task_pages import TaskPage
from admin.processes.transfer_forms import (
    ApproveAdvanceForm,
    DisbursementForm,
    RejectAdvanceForm,
    RepaymentForm,
    page_form,
    prepare_today,
)
from web.auth import StaffPrincipal
from web.runtime import Runtime
from workflows.engine.engine import Actor
from workflows.engine.errors import CaseNotFound, TransitionNotAllowed, ValidationError
from workflows.formatting import datetime_fr, euros
from workflows.mandataires import latest_with_account
from workflows.models import OFFICER_LABELS, Case, Document
from workflows.processes.banque_postale_transfer import definition as transfer
from workflows.processes.emergency_advance.definition import (
    DISBURSE,
    DISBURSED,
    OVERDUE,
    PROCESS,
    RECORD_REPAYMENT,
    REVIEW,
    SIGNED,
    UNDER_REVIEW,
)
from workflows.processes.iban.accounts import certified_account

#: The staff actions with a page (a stuck rule recommends ``record_repayment``).
ACTIONS = {
    REVIEW: "Examiner la demande d'avance",
    DISBURSE: "Faire le virement de l'avance",
    RECORD_REPAYMENT: "Enregistrer le remboursement",
}
QUOTE_KIND = "advance_quote"
OFFICERS_ONLY = "Seuls le président et le trésorier de l'AD examinent les demandes d'avance."
NO_QUOTE = "Ce dossier n'a pas de devis ou de facture sous ce numéro."


def may_review(principal: StaffPrincipal, case: Case) -> bool:
    """The AD's president or treasurer, who alone review its coops' advances."""
    return principal.is_officer and principal.ad_id == case.coop.ad_id


def _advance(tx: Any, principal: StaffPrincipal, case_id: int, version: int) -> Case:
    case = lock_visible(tx, principal, case_id, version)
    if case.process != PROCESS:
        raise CaseNotFound(f"Dossier {case_id} introuvable.")
    return case


def _day_fr(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _noted(note: str, comment: str | None) -> str:
    return f"{note} {comment.strip()}" if comment and comment.strip() else note


# What each form does -------------------------------------------------------------------


def _decide(
    rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any, decision: str, reason: str
) -> None:
    """The review kept in the case and its trigger fired, by an officer of its AD only."""
    with rt.engine.transaction() as tx:
        case = _advance(tx, principal, case_id, form.version.data)
        if not may_review(principal, case):
            raise TransitionNotAllowed(OFFICERS_ONLY)
        case.data = {
            **(case.data or {}),
            "review": {
                "decision": decision,
                "reason": reason,
                "by": principal.full_name,
                "officer_role": principal.officer_role,
                "at": tx.now.isoformat(),
            },
        }
        tx.fire(
            case_id,
            "approve" if decision == "approved" else "reject",
            actor=Actor.staff(principal),
            expected_version=form.version.data,
            payload={"reason": reason},
            comment=reason or None,
        )


def approve(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    _decide(rt, principal, case_id, form, "approved", (form.message.data or "").strip())
    return "Avance accordée : le contrat de remboursement est préparé pour le mandataire."


def reject(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    _decide(rt, principal, case_id, form, "rejected", (form.reason.data or "").strip())
    return "Avance refusée : le mandataire reçoit le motif par email et le lit sur le portail."


def _record(
    tx: Any,
    principal: StaffPrincipal,
    case: Case,
    form: Any,
    trigger: str,
    key: str,
    payload: dict[str, Any],
    note: str,
    **kept: Any,
) -> None:
    """What staff saw paid kept in ``case.data[key]`` (with who recorded it) and
    ``trigger`` fired with it, in ``tx``."""
    case.data = {**(case.data or {}), key: {**payload, **kept, "by": principal.full_name}}
    tx.fire(
        case.id,
        trigger,
        actor=Actor.staff(principal),
        expected_version=form.version.data,
        payload=payload,
        comment=_noted(note, form.comment.data),
    )


def disburse(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    day, reference = form.disbursed_on.data, " ".join((form.reference.data or "").split())
    payload = {"disbursed_on": day.isoformat(), "reference": reference}
    note = f"Avance versée le {_day_fr(day)}, référence {reference}."
    with rt.engine.transaction() as tx:
        case = _advance(tx, principal, case_id, form.version.data)
        _record(tx, principal, case, form, DISBURSE, "disbursement", payload, note)
    return f"Virement de l'avance enregistré (le {_day_fr(day)}, référence {reference})."


def _disbursed_on(case: Case) -> date | None:
    day = ((case.data or {}).get("disbursement") or {}).get("disbursed_on")
    return date.fromisoformat(day) if day else None


def record_repayment(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    day, reference = form.repaid_on.data, " ".join((form.reference.data or "").split())
    payload = {"repaid_on": day.isoformat(), "reference": reference}
    note = f"Avance remboursée le {_day_fr(day)}, référence {reference}."
    with rt.engine.transaction() as tx:
        case = _advance(tx, principal, case_id, form.version.data)
        paid = _disbursed_on(case)
        if paid is not None and day < paid:
            raise ValidationError(
                f"Le remboursement ne peut pas précéder le versement de l'avance (le "
                f"{_day_fr(paid)})."
            )
        _record(
            tx, principal, case, form, RECORD_REPAYMENT, "repayment", payload, note, source="staff"
        )
    return "Remboursement enregistré : l'avance est remboursée."


# What the pages show -------------------------------------------------------------------


def quote_of(session: Session, case: Case) -> Document | None:
    """The quote or invoice the mandataire joined to the request (never another coop's
    document, nor one that is no quote)."""
    document_id = ((case.data or {}).get("request") or {}).get("quote_document_id")
    if not isinstance(document_id, int):
        return None
    document = session.get(Document, document_id)
    if document is None or document.coop_id != case.coop_id or document.kind != QUOTE_KIND:
        return None
    return document


def _iso_fr(value: Any) -> str:
    """A stored ISO day or moment as staff read it (« 15/03/2027 », « … à 10:30 »)."""
    if not value:
        return ""
    text = str(value)
    return (
        datetime_fr(datetime.fromisoformat(text))
        if "T" in text
        else _day_fr(date.fromisoformat(text))
    )


def advance_context(session: Session, case: Case, principal: StaffPrincipal) -> dict[str, Any]:
    data = case.data or {}
    request = dict(data.get("request") or {})
    review = dict(data.get("review") or {})
    transfer_case = session.scalars(
        select(Case)
        .where(Case.coop_id == case.coop_id, Case.process == transfer.PROCESS)
        .order_by(Case.id.desc())
        .limit(1)
    ).first()
    account = certified_account(session, case.coop_id)
    quote = quote_of(session, case)
    return {
        "request": request,
        "project_on": _iso_fr(request.get("project_on")),
        "requested_at": _iso_fr(request.get("requested_at")),
        "supplier_iban": grouped(str(request.get("supplier_iban") or "")),
        "amount": euros(int(request.get("amount_cents") or 0)),
        "declared": euros(int(request.get("declared_cents") or 0)),
        "cap": euros(case.coop.ad.advance_cap_cents),
        "repayment_days": case.coop.ad.advance_repayment_days,
        "quote": quote,
        "quote_url": url_for(".advance_quote", case_id=case.id, document_id=quote.id)
        if quote
        else None,
        "transfer_state": transfer.DEFINITION.label(transfer_case.state) if transfer_case else "",
        "review": review,
        "reviewed_at": _iso_fr(review.get("at")),
        "reviewer_role": OFFICER_LABELS.get(str(review.get("officer_role")), ""),
        "signature": dict(data.get("signature") or {}),
        "signed_at": _iso_fr((data.get("signature") or {}).get("signed_at")),
        "disbursement": dict(data.get("disbursement") or {}),
        "disbursed_on": _iso_fr((data.get("disbursement") or {}).get("disbursed_on")),
        "account": grouped(account.iban) if account else "",
        "holder": account.holder if account else "",
        "mandataire": latest_with_account(session, case.coop_id),
        "may_review": may_review(principal, case),
        "officers_only": OFFICERS_ONLY,
    }


def _in(*states: str) -> Any:
    return lambda case: case.process == PROCESS and case.state in states


REVIEW_PAGE = TaskPage(
    REVIEW,
    "Examiner la demande d'avance",
    endpoint=".advance_review",
    template="coopflow_admin/processes/advance_review.html",
    offered=_in(UNDER_REVIEW),
    forms=(
        page_form(REVIEW, "approve", ApproveAdvanceForm, ".advance_approve", approve, "message"),
        page_form(REVIEW, "reject", RejectAdvanceForm, ".advance_reject", reject, "reason"),
    ),
    context=advance_context,
    triggers=("approve", "reject"),
)
DISBURSEMENT_PAGE = TaskPage(
    DISBURSE,
    "Faire le virement de l'avance",
    endpoint=".advance_disbursement",
    template="coopflow_admin/processes/advance_disbursement.html",
    offered=_in(SIGNED),
    forms=(
        page_form(
            DISBURSE,
            "disburse",
            DisbursementForm,
            ".advance_disburse",
            disburse,
            "disbursed_on",
            prepare=prepare_today("disbursed_on"),
        ),
    ),
    context=advance_context,
    triggers=(DISBURSE,),
)
REPAYMENT_PAGE = TaskPage(
    RECORD_REPAYMENT,
    "Enregistrer le remboursement de l'avance",
    endpoint=".advance_repayment",
    template="coopflow_admin/processes/advance_repayment.html",
    offered=_in(DISBURSED, OVERDUE),
    forms=(
        page_form(
            RECORD_REPAYMENT,
            "repayment",
            RepaymentForm,
            ".advance_repayment_post",
            record_repayment,
            "repaid_on",
            prepare=prepare_today("repaid_on"),
        ),
    ),
    context=advance_context,
    # ``repay`` is the transfer's effect: by hand, staff record what they saw.
    triggers=(RECORD_REPAYMENT, "repay"),
)
#: The tasks with a page, by the action they are.
PAGES = (REVIEW_PAGE, DISBURSEMENT_PAGE, REPAYMENT_PAGE)


class Routes:
    """The routes of :data:`PAGES`, mixed into :class:`admin.cases.CaseView`."""

    @expose("/<int:case_id>/avance/examen")
    def advance_review(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, REVIEW_PAGE)

    @expose("/<int:case_id>/avance/examen/accorder", methods=("POST",))
    def advance_approve(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, REVIEW_PAGE, "approve")

    @expose("/<int:case_id>/avance/examen/refuser", methods=("POST",))
    def advance_reject(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, REVIEW_PAGE, "reject")

    @expose("/<int:case_id>/avance/devis/<int:document_id>")
    def advance_quote(self, case_id: int, document_id: int) -> Any:
        """The request's quote, for acting staff who see its AD."""
        acting_staff()
        case = self._visible_case(case_id)  # type: ignore[attr-defined]
        document = quote_of(self.session, case)  # type: ignore[attr-defined]
        if document is None or document.id != document_id:
            flash(NO_QUOTE, "error")
            return redirect(url_for(".case_page", case_id=case_id))
        return inline(document)

    @expose("/<int:case_id>/avance/virement")
    def advance_disbursement(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, DISBURSEMENT_PAGE)

    @expose("/<int:case_id>/avance/virement/enregistrer", methods=("POST",))
    def advance_disburse(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, DISBURSEMENT_PAGE, "disburse")

    @expose("/<int:case_id>/avance/remboursement")
    def advance_repayment(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, REPAYMENT_PAGE)

    @expose("/<int:case_id>/avance/remboursement/enregistrer", methods=("POST",))
    def advance_repayment_post(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, REPAYMENT_PAGE, "repayment")
