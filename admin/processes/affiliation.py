"""The affiliation's staff actions, each a task page (:mod:`admin.processes.task_pages`):

- « Valider les pièces » (``awaiting_validation``, recommended once its task is overdue:
  ``validate_items``): the three items checked separately, each by its own form —
  payment received (amount, date, reference), signed commitment received, change form
  handled (only when a change was declared, shown beside it) — each showing who checked
  it and when; the last one validates the affiliation. « Renvoyer pour correction » with
  what the mandataire must correct. The payments may also come from a bank statement
  (:mod:`admin.processes.affiliation_statement`).
- « Relancer et accorder un délai » (``draft`` or ``overdue``, recommended when overdue:
  ``extend``): a new deadline, and a reminder sent.

What each form does is :mod:`workflows.processes.affiliation.validation`'s, in one
transaction that locks the case, checks the staff member's AD and the page's version.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import g, redirect, url_for
from flask_admin import expose
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from admin.case_actions import StaffAction, lock_visible
from admin.processes import task_pages
from admin.processes.affiliation_forms import (
    ChangeFormForm,
    CommitmentForm,
    ExtendForm,
    PaymentForm,
    SendBackForm,
)
from admin.processes.task_pages import TaskPage
from web.auth import StaffPrincipal
from web.runtime import Runtime
from workflows.engine.actor import Actor
from workflows.formatting import euros
from workflows.mandataires import latest_with_account
from workflows.models import Case, Document, StatementLine
from workflows.processes.affiliation import calendar, validation
from workflows.processes.affiliation.definition import (
    AWAITING_VALIDATION,
    EXTEND,
    PROCESS,
    VALIDATE_ITEMS,
    missing_checks,
    required_checks,
)
from workflows.processes.affiliation.form import (
    CHANGE_FORM,
    CHECK_LABELS,
    COMMITMENT,
    PAYMENT,
    form_of,
    payment_reference,
)

#: The staff actions the definition's stuck rules recommend beyond its triggers.
ACTIONS = {VALIDATE_ITEMS: "Valider les pièces"}

# What each form does -------------------------------------------------------------------


def _remaining(case: Case) -> str:
    left = [CHECK_LABELS[i] for i in missing_checks(case.data or {})]
    return " ; ".join(f"« {label} »" for label in left)


def _record(
    rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any, item: str, details: Any
) -> str:
    with rt.engine.transaction() as tx:
        lock_visible(tx, principal, case_id, form.version.data)
        comment = form.comment.data if hasattr(form, "comment") else None
        recorded = validation.record_check(
            tx, case_id, item, Actor.staff(principal), details, comment
        )
        remaining = _remaining(recorded.case)
    # Back to the page while items are left (read by the routes below).
    g.affiliation_stay = not recorded.validated
    if recorded.validated:
        return "Adhésion validée : les attestations sont en préparation pour le mandataire."
    return f"« {CHECK_LABELS[item]} » enregistré. Reste à valider : {remaining}."


def check_payment(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    details = {
        "amount_cents": form.amount_cents,
        "received_on": form.received_on.data,
        "reference": form.reference.data,
        "source": validation.MANUAL,
    }
    return _record(rt, principal, case_id, form, PAYMENT, details)


def check_commitment(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    return _record(rt, principal, case_id, form, COMMITMENT, {"note": form.note.data})


def check_change_form(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    return _record(rt, principal, case_id, form, CHANGE_FORM, {"note": form.note.data})


def send_back(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    with rt.engine.transaction() as tx:
        lock_visible(tx, principal, case_id, form.version.data)
        validation.send_back(tx, case_id, Actor.staff(principal), form.comment.data or "")
    return "Adhésion renvoyée au mandataire : il reçoit votre commentaire et peut la corriger."


def extend(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    with rt.engine.transaction() as tx:
        lock_visible(tx, principal, case_id, form.version.data)
        validation.extend(
            tx, case_id, Actor.staff(principal), form.deadline.data, form.comment.data
        )
    day = form.deadline.data.strftime("%d/%m/%Y")
    return f"Délai accordé jusqu'au {day} : le mandataire reçoit un rappel."


# What the pages show -------------------------------------------------------------------


def _prepare_payment(form: Any, session: Session, case: Case, fresh: bool) -> None:
    """A blank payment form proposes the reference the mandataire was given."""
    if fresh and case.school_year is not None:
        form.reference.data = payment_reference(case.school_year, case.coop.affiliation_number)


def _check_lines(case: Case) -> list[dict[str, Any]]:
    data = case.data or {}
    checks = data.get("checks") or {}
    items = []
    for item in required_checks(data):
        check = checks.get(item)
        detail = ""
        if check and item == PAYMENT:
            received = date.fromisoformat(check["received_on"]).strftime("%d/%m/%Y")
            origin = " (relevé bancaire)" if check.get("source") == validation.STATEMENT else ""
            detail = (
                f"{euros(check['amount_cents'])} reçus le {received}, référence "
                f"{check['reference']}{origin}"
            )
        elif check and check.get("note"):
            detail = check["note"]
        items.append(
            {
                "item": item,
                "label": CHECK_LABELS[item],
                "check": check,
                "by": validation.checked_by(check) if check else "",
                "detail": detail,
            }
        )
    return items


def items_context(session: Session, case: Case, principal: StaffPrincipal) -> dict[str, Any]:
    data = case.data or {}
    fee = (data.get("fee") or {}).get("total_cents")
    year = case.school_year or 0
    return {
        "items": _check_lines(case),
        "fee": euros(int(fee)) if fee is not None else "",
        "reference": payment_reference(year, case.coop.affiliation_number),
        "change": form_of(data).change,
        "mandataire": latest_with_account(session, case.coop_id),
        "statement_lines": [
            f"{line.booked_on.strftime('%d/%m/%Y')} · {euros(line.amount_cents)} · {line.label}"
            for line in session.scalars(
                select(StatementLine)
                .where(StatementLine.case_id == case.id)
                .order_by(StatementLine.loaded_at.desc())
            )
        ],
        "documents": session.scalars(
            select(Document)
            .where(Document.case_id == case.id)
            .options(defer(Document.content))
            .order_by(Document.created_at.desc())
        ).all(),
    }


def extend_context(session: Session, case: Case, principal: StaffPrincipal) -> dict[str, Any]:
    return {
        "deadline": calendar.deadline_of(case, session).strftime("%d/%m/%Y"),
        "mandataire": latest_with_account(session, case.coop_id),
    }


def _form(
    name: str, prefix: str, form: type[Any], endpoint: str, perform: Any, field: str, **kw: Any
) -> StaffAction:
    return StaffAction(
        name,
        prefix=prefix,
        form=form,
        endpoint=endpoint,
        offered=lambda case: True,
        perform=perform,
        field=field,
        **kw,
    )


VALIDATION = TaskPage(
    VALIDATE_ITEMS,
    "Valider les pièces de l'adhésion",
    endpoint=".affiliation_items",
    template="coopflow_admin/processes/affiliation_items.html",
    offered=lambda case: case.process == PROCESS and case.state == AWAITING_VALIDATION,
    forms=(
        _form(
            VALIDATE_ITEMS,
            PAYMENT,
            PaymentForm,
            ".affiliation_payment",
            check_payment,
            "amount",
            prepare=_prepare_payment,
        ),
        _form(
            VALIDATE_ITEMS,
            COMMITMENT,
            CommitmentForm,
            ".affiliation_commitment",
            check_commitment,
            "received",
        ),
        _form(
            VALIDATE_ITEMS,
            CHANGE_FORM,
            ChangeFormForm,
            ".affiliation_change_form",
            check_change_form,
            "handled",
        ),
        _form(
            VALIDATE_ITEMS,
            "send_back",
            SendBackForm,
            ".affiliation_send_back",
            send_back,
            "comment",
        ),
    ),
    context=items_context,
    triggers=("check_payment", "check_commitment", "check_change_form", "validate", "send_back"),
)
EXTENSION = TaskPage(
    EXTEND,
    "Relancer et accorder un délai",
    endpoint=".affiliation_extend",
    template="coopflow_admin/processes/affiliation_extend.html",
    offered=lambda case: case.process == PROCESS and case.state in validation.EXTENDABLE,
    forms=(_form(EXTEND, "extend", ExtendForm, ".affiliation_extend_post", extend, "deadline"),),
    context=extend_context,
    triggers=(EXTEND,),
)
#: The tasks with a page, by the action a stuck rule recommends.
PAGES = (VALIDATION, EXTENSION)


def _post(view: Any, case_id: int, prefix: str) -> Any:
    """A form of the validation page: done with items left, back to the page."""
    g.affiliation_stay = False
    response = task_pages.post(view, case_id, VALIDATION, prefix)
    if g.affiliation_stay and getattr(response, "status_code", None) == 302:
        return redirect(url_for(".affiliation_items", case_id=case_id))
    return response


class Routes:
    """The routes of :data:`PAGES`, mixed into :class:`admin.cases.CaseView`."""

    @expose("/<int:case_id>/adhesion/pieces")
    def affiliation_items(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, VALIDATION)

    @expose("/<int:case_id>/adhesion/paiement", methods=("POST",))
    def affiliation_payment(self, case_id: int) -> Any:
        return _post(self, case_id, PAYMENT)

    @expose("/<int:case_id>/adhesion/engagement", methods=("POST",))
    def affiliation_commitment(self, case_id: int) -> Any:
        return _post(self, case_id, COMMITMENT)

    @expose("/<int:case_id>/adhesion/changement", methods=("POST",))
    def affiliation_change_form(self, case_id: int) -> Any:
        return _post(self, case_id, CHANGE_FORM)

    @expose("/<int:case_id>/adhesion/renvoyer", methods=("POST",))
    def affiliation_send_back(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, VALIDATION, "send_back")

    @expose("/<int:case_id>/adhesion/delai")
    def affiliation_extend(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, EXTENSION)

    @expose("/<int:case_id>/adhesion/delai/accorder", methods=("POST",))
    def affiliation_extend_post(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, EXTENSION, "extend")
