"""The card order's staff actions in the back-office (PROCESSES.md §6, seed 002):

- « Approuver l'adresse de livraison » (``requested``, task ``card_address_review``): a
  page with the address the mandataire asked beside the school's, and their reason;
  « Approuver » (``approve_address``: the card is ordered) or « Refuser » with a reason
  the mandataire reads (``refuse_address``: its email says it, the case goes back to
  ``to_order``).
- « Enregistrer une carte revenue à l'AD » (``shipped``): the day it arrived, not in the
  future (``record_return``), kept in ``case.data["return"]`` (``received_on``, ``by``);
  the case is stuck until staff, on « Renvoyer la carte », send it on to the school
  (``resend``) or hand it over (``hand_over``), the outcome kept in the same entry
  (``outcome``: ``resent`` or ``handed_over``). The mandataire is emailed each time
  (``notify_returned``, then ``notify_shipped`` saying it was sent on or handed over).
- « Relancer la banque » (``follow_up_card``, ``processing``) and « Annuler la commande »
  (``cancel``): their guard wants a comment in the payload, which the case page's
  generic forms do not send: each has its form here.

« Relancer le mandataire » (``relaunch_consent``, ``relaunch_activation``) and « Statut
demandé à Swan » (``sync``) need nothing but a comment: the generic forms fire them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_admin import expose
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from wtforms import TextAreaField

from admin.case_actions import STALE, lock_visible
from admin.forms import CaseActionForm, optional_comment
from admin.processes import task_pages
from admin.processes.task_pages import TaskPage
from admin.processes.transfer_forms import page_form, past_day, prepare_today, said_comment
from web.auth import StaffPrincipal
from web.forms import text_field
from web.runtime import Runtime
from workflows.engine.engine import Actor
from workflows.engine.errors import CaseNotFound, VersionConflict
from workflows.formatting import datetime_fr
from workflows.mandataires import latest_with_account
from workflows.models import Case, CaseEvent
from workflows.processes.card_order.definition import (
    COMMENT_MAX,
    FOLLOW_UP,
    HAND_OVER,
    PROCESS,
    PROCESSING,
    REQUESTED,
    RESEND,
    RETURNED_TO_AD,
    SHIPPED,
)

REVIEW_ADDRESS = "review_card_address"
RECORD_RETURN = "record_return"
CANCEL = "cancel"
#: The states a staff member may cancel the order from (the definition's ``cancel``).
CANCELLABLE = ("to_order", REQUESTED, "consent_pending", PROCESSING, SHIPPED, RETURNED_TO_AD)
#: The staff actions with a form or a page (the stuck rules recommend ``resend``).
ACTIONS = {
    REVIEW_ADDRESS: "Approuver l'adresse de livraison",
    RECORD_RETURN: "Enregistrer une carte revenue à l'AD",
    RESEND: "Renvoyer la carte",
    FOLLOW_UP: "Relancer la banque",
    CANCEL: "Annuler la commande",
}
#: What ``case.data["return"]["outcome"]`` says, by trigger.
OUTCOMES = {RESEND: "resent", HAND_OVER: "handed_over"}
_TOO_LONG = f"({COMMENT_MAX} caractères au plus)."


# The forms ------------------------------------------------------------------------------


class ApproveAddressForm(CaseActionForm):
    comment = optional_comment()


class RefuseAddressForm(CaseActionForm):
    reason = text_field(
        TextAreaField,
        "Motif du refus (le mandataire le lit, par email et sur le portail)",
        max_length=COMMENT_MAX,
        too_long=f"Motif trop long {_TOO_LONG}",
        missing="Indiquez pourquoi l'adresse est refusée : le mandataire le lira.",
    )


class ReturnForm(CaseActionForm):
    received_on = past_day(
        "Arrivée à l'AD le",
        "Indiquez le jour où la carte est arrivée à l'AD (jj/mm/aaaa).",
        "Le jour d'arrivée de la carte ne peut pas être dans le futur.",
    )
    comment = optional_comment()


class OutcomeForm(CaseActionForm):
    comment = optional_comment()


class FollowUpCardForm(CaseActionForm):
    comment = said_comment(
        "Ce que vous avez fait (appel, message, réponse de la banque)",
        "Dites comment la banque a été relancée : c'est enregistré dans l'historique.",
    )


class CancelForm(CaseActionForm):
    comment = said_comment(
        "Pourquoi la commande est annulée",
        "Dites pourquoi la commande est annulée : c'est enregistré dans l'historique.",
    )


# What each form does --------------------------------------------------------------------


def _card(tx: Any, principal: StaffPrincipal, case_id: int, version: int) -> Case:
    """The card order, locked, in scope and at the page's version (another process's
    case is not found, whatever the version its form carried)."""
    case = lock_visible(tx, principal, case_id)
    if case.process != PROCESS:
        raise CaseNotFound(f"Dossier {case_id} introuvable.")
    if case.version != version:
        raise VersionConflict(STALE)
    return case


def _fire(
    rt: Runtime,
    principal: StaffPrincipal,
    case_id: int,
    form: Any,
    trigger: str,
    payload: dict[str, Any],
    comment: str | None,
    keep: Any = None,
) -> None:
    """``trigger`` fired as this staff member, what ``keep(case)`` writes in the case
    first, in one transaction."""
    with rt.engine.transaction() as tx:
        case = _card(tx, principal, case_id, form.version.data)
        if keep is not None:
            case.data = {**(case.data or {}), **keep(case)}
        tx.fire(
            case_id,
            trigger,
            actor=Actor.staff(principal),
            expected_version=form.version.data,
            payload=payload,
            comment=comment or None,
        )


def _comment(form: Any) -> str:
    return " ".join((form.comment.data or "").split()) if form.comment.data else ""


def approve(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    _fire(rt, principal, case_id, form, "approve_address", {}, _comment(form))
    return "Adresse de livraison approuvée : la carte est commandée à la banque."


def refuse(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    reason = (form.reason.data or "").strip()
    _fire(rt, principal, case_id, form, "refuse_address", {"reason": reason}, reason)
    return (
        "Adresse de livraison refusée : le mandataire reçoit le motif par email et peut "
        "commander la carte de nouveau."
    )


def record_return(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    day = form.received_on.data
    kept = {"received_on": day.isoformat(), "by": principal.full_name}
    _fire(
        rt,
        principal,
        case_id,
        form,
        RECORD_RETURN,
        {"received_on": day.isoformat()},
        _comment(form) or f"Carte arrivée à l'AD le {day.strftime('%d/%m/%Y')}.",
        lambda case: {"return": kept},
    )
    return (
        f"Carte revenue à l'AD le {day.strftime('%d/%m/%Y')} : le mandataire est prévenu ; "
        "renvoyez-la à l'école ou remettez-la-lui."
    )


def _sent_on(trigger: str, done: str) -> Any:
    """« Renvoyer la carte à l'école » or « Remettre la carte au mandataire »: the
    outcome kept with the return."""

    def perform(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
        def keep(case: Case) -> dict[str, Any]:
            return {"return": {**returned(case), "outcome": OUTCOMES[trigger]}}

        _fire(rt, principal, case_id, form, trigger, {}, _comment(form), keep)
        return done

    return perform


def returned(case: Case) -> dict[str, Any]:
    """The card's return as the case keeps it, else as ``record_return`` carried it
    (a case brought back by other means than this page: its day is in the history)."""
    entry = (case.data or {}).get("return")
    if isinstance(entry, dict) and entry:
        return dict(entry)
    session = object_session(case)
    payload = (
        session.scalars(
            select(CaseEvent.payload)
            .where(CaseEvent.case_id == case.id, CaseEvent.trigger == RECORD_RETURN)
            .order_by(CaseEvent.id.desc())
            .limit(1)
        ).first()
        if session is not None
        else None
    )
    return {"received_on": (payload or {}).get("received_on")} if payload else {}


def _commented(trigger: str, done: str) -> Any:
    """A trigger whose guard wants the comment in its payload (``has_comment``)."""

    def perform(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
        comment = (form.comment.data or "").strip()
        _fire(rt, principal, case_id, form, trigger, {"comment": comment}, comment)
        return done

    return perform


# What the pages show --------------------------------------------------------------------


def _lines(address: dict[str, Any]) -> list[str]:
    town = " ".join(str(address.get(k) or "").strip() for k in ("postal_code", "city"))
    lines = [str(address.get(k) or "").strip() for k in ("line1", "line2")]
    return [line for line in (*lines, town.strip()) if line]


def _when(iso: Any) -> str:
    """A stored ISO day or moment as staff read it (« 20/11/2026 », « … à 10:30 »)."""
    try:
        moment = datetime.fromisoformat(str(iso))
    except ValueError:
        return ""
    return datetime_fr(moment) if "T" in str(iso) else moment.strftime("%d/%m/%Y")


def card_context(session: Session, case: Case, principal: StaffPrincipal) -> dict[str, Any]:
    """The request (the address asked, the school's, the reason), the card as Swan
    described it, its return to the AD."""
    data = case.data or {}
    request = dict(data.get("request") or {})
    coop = case.coop
    back = returned(case)
    return {
        "request": request,
        "asked": _lines(dict(request.get("address") or {})),
        "school": _lines(
            {"line1": coop.street, "postal_code": coop.postal_code, "city": coop.city}
        ),
        "requested_at": _when(request.get("requested_at")),
        "card": dict(data.get("card") or {}),
        "delivery_day": _when((data.get("card") or {}).get("estimated_delivery")),
        "back": back,
        "received_on": _when(back.get("received_on")),
        "mandataire": latest_with_account(session, case.coop_id),
    }


def _in(*states: str) -> Any:
    return lambda case: case.process == PROCESS and case.state in states


ADDRESS_PAGE = TaskPage(
    REVIEW_ADDRESS,
    "Approuver l'adresse de livraison de la carte",
    endpoint=".card_address",
    template="coopflow_admin/processes/card_address.html",
    offered=_in(REQUESTED),
    forms=(
        page_form(
            REVIEW_ADDRESS,
            "approve",
            ApproveAddressForm,
            ".card_address_approve",
            approve,
            "comment",
        ),
        page_form(
            REVIEW_ADDRESS, "refuse", RefuseAddressForm, ".card_address_refuse", refuse, "reason"
        ),
    ),
    context=card_context,
    triggers=("approve_address", "refuse_address"),
)
RETURNED_PAGE = TaskPage(
    RESEND,
    "Renvoyer la carte revenue à l'AD",
    endpoint=".card_returned",
    template="coopflow_admin/processes/card_returned.html",
    offered=_in(RETURNED_TO_AD),
    forms=(
        page_form(
            RESEND,
            "resend",
            OutcomeForm,
            ".card_resend",
            _sent_on(RESEND, "Carte renvoyée à l'école : le mandataire est prévenu par email."),
            "comment",
        ),
        page_form(
            RESEND,
            "hand_over",
            OutcomeForm,
            ".card_hand_over",
            _sent_on(HAND_OVER, "Carte remise au mandataire : il est prévenu par email."),
            "comment",
        ),
    ),
    context=card_context,
    triggers=(RESEND, HAND_OVER),
)
RETURN_PAGE = TaskPage(
    RECORD_RETURN,
    "Enregistrer une carte revenue à l'AD",
    endpoint=".card_return",
    template="coopflow_admin/processes/card_return.html",
    offered=_in(SHIPPED),
    forms=(
        page_form(
            RECORD_RETURN,
            "card_return",
            ReturnForm,
            ".card_record_return",
            record_return,
            "received_on",
            prepare=prepare_today("received_on"),
        ),
    ),
    context=card_context,
    triggers=(RECORD_RETURN,),
)
#: The tasks with a page, by the action they are.
PAGES = (ADDRESS_PAGE, RETURN_PAGE, RETURNED_PAGE)

FOLLOW = page_form(
    FOLLOW_UP,
    "card_follow_up",
    FollowUpCardForm,
    ".card_follow_up",
    _commented(FOLLOW_UP, "Relance de la banque enregistrée : 10 jours de plus."),
    "comment",
    offered=lambda case: case.state == PROCESSING,
)
CANCEL_FORM = page_form(
    CANCEL,
    "card_cancel",
    CancelForm,
    ".card_cancel",
    _commented(CANCEL, "Commande de la carte annulée."),
    "comment",
    offered=lambda case: case.state in CANCELLABLE,
)
#: The actions with a form on the case page, in the order shown.
FORMS = (FOLLOW, CANCEL_FORM)


class Routes:
    """The routes of :data:`PAGES` and :data:`FORMS`, mixed into
    :class:`admin.cases.CaseView`."""

    @expose("/<int:case_id>/carte/adresse")
    def card_address(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, ADDRESS_PAGE)

    @expose("/<int:case_id>/carte/adresse/approuver", methods=("POST",))
    def card_address_approve(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, ADDRESS_PAGE, "approve")

    @expose("/<int:case_id>/carte/adresse/refuser", methods=("POST",))
    def card_address_refuse(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, ADDRESS_PAGE, "refuse")

    @expose("/<int:case_id>/carte/revenue")
    def card_returned(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, RETURNED_PAGE)

    @expose("/<int:case_id>/carte/revenue/renvoyer", methods=("POST",))
    def card_resend(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, RETURNED_PAGE, "resend")

    @expose("/<int:case_id>/carte/revenue/remettre", methods=("POST",))
    def card_hand_over(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, RETURNED_PAGE, "hand_over")

    @expose("/<int:case_id>/carte/retour")
    def card_return(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, RETURN_PAGE)

    @expose("/<int:case_id>/carte/retour/enregistrer", methods=("POST",))
    def card_record_return(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, RETURN_PAGE, "card_return")

    @expose("/<int:case_id>/carte/relance", methods=("POST",))
    def card_follow_up(self, case_id: int) -> Any:
        return self.staff_action(case_id, FOLLOW)  # type: ignore[attr-defined]

    @expose("/<int:case_id>/carte/annuler", methods=("POST",))
    def card_cancel(self, case_id: int) -> Any:
        return self.staff_action(case_id, CANCEL_FORM)  # type: ignore[attr-defined]
