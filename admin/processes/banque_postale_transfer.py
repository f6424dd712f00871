"""The Banque Postale transfer's staff actions in the back-office:

- « Envoyer la lettre à La Banque Postale » (``ready_to_send``, task ``transfer_letter``):
  a page with the letter to open and « Lettre envoyée » with the day it was posted; the
  letters of every coop are printed and marked sent together on « Lettres à envoyer »
  (:mod:`admin.processes.transfer_letters`), by the same function.
- « Enregistrer les fonds reçus » (``ready_to_send``, ``sent_to_bank``): a page with the
  declared balance and the AD's tolerance; the amount and day received kept in
  ``case.data["funds"]`` and ``funds_received`` fired, in one transaction. Beyond the
  tolerance the case is stuck (``transfer_amount_mismatch``): its sentence shows both
  amounts, and « Vérifier le montant reçu » (``accept_amount``, a comment) unsticks it.
- « Relancer La Banque Postale » (``follow_up_bank``, ``sent_to_bank``, recommended by
  ``transfer_no_funds``): what staff did, in the history, 30 more days.

« Relancer le mandataire » (``relaunch``) and « Clôture du compte confirmée »
(``close_account``) need nothing but a comment: the case page's generic forms fire them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_admin import expose
from sqlalchemy.orm import Session

from admin.case_actions import STALE, lock_visible
from admin.processes import task_pages
from admin.processes.iban_shown import grouped
from admin.processes.task_pages import TaskPage
from admin.processes.transfer_forms import (
    AcceptAmountForm,
    FollowUpForm,
    FundsForm,
    LetterSentForm,
    page_form,
    prepare_today,
)
from admin.processes.transfer_letters import letters_of, mark_sent
from web.auth import StaffPrincipal
from web.runtime import Runtime
from workflows.engine.engine import Actor
from workflows.engine.errors import CaseNotFound, TransitionNotAllowed, VersionConflict
from workflows.formatting import euros
from workflows.mandataires import latest_with_account
from workflows.models import Case
from workflows.processes.banque_postale_transfer.attestation import (
    attestation_of,
    declared_cents,
    funds_payload,
)
from workflows.processes.banque_postale_transfer.definition import (
    CHECK_AMOUNT,
    FOLLOW_UP,
    FUNDS_RECEIVED,
    PROCESS,
    READY_TO_SEND,
    SENT_TO_BANK,
)
from workflows.processes.iban.accounts import certified_account

SEND_LETTER = "send_letter"
RECORD_FUNDS = "record_funds"
MISMATCH = "transfer_amount_mismatch"
#: The staff actions with a form or a page (the stuck rules recommend triggers only).
ACTIONS = {
    FOLLOW_UP: "Relancer La Banque Postale",
    CHECK_AMOUNT: "Vérifier le montant reçu",
    SEND_LETTER: "Envoyer la lettre à La Banque Postale",
    RECORD_FUNDS: "Enregistrer les fonds reçus",
}
#: Where funds may be recorded: a letter posted but not marked sent does not hold
#: them back (the definition's ``funds_received``).
AWAITING_FUNDS = (READY_TO_SEND, SENT_TO_BANK)
NOT_AWAITING = "Ce dossier n'attend plus les fonds de La Banque Postale : rechargez la page."


def _transfer(tx: Any, principal: StaffPrincipal, case_id: int, version: int) -> Case:
    """The transfer case, locked: another process's case is not found (whatever the
    version its form carried), then the version is the page's."""
    case = lock_visible(tx, principal, case_id)
    if case.process != PROCESS:
        raise CaseNotFound(f"Dossier {case_id} introuvable.")
    if case.version != version:
        raise VersionConflict(STALE)
    return case


# What each form does -------------------------------------------------------------------


def letter_sent(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    with rt.engine.transaction() as tx:
        mark_sent(
            tx, principal, case_id, form.sent_on.data, form.comment.data or None, form.version.data
        )
    return "Lettre marquée envoyée : La Banque Postale doit reverser le solde."


def record_funds(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    """The funds kept in the case and ``funds_received`` fired with the amounts the stuck
    rule compares, together."""
    received_on = form.received_on.data
    with rt.engine.transaction() as tx:
        case = _transfer(tx, principal, case_id, form.version.data)
        if case.state not in AWAITING_FUNDS:
            raise TransitionNotAllowed(NOT_AWAITING)
        payload = funds_payload(
            case,
            case.coop.ad,
            received_cents=form.amount_cents,
            received_on=received_on,
            source="staff",
            recorded_by=principal.full_name,
        )
        case.data = {
            **(case.data or {}),
            "funds": {
                "received_cents": form.amount_cents,
                "received_on": received_on.isoformat(),
                "source": "staff",
                "recorded_by": principal.full_name,
            },
        }
        tx.fire(
            case_id,
            "funds_received",
            actor=Actor.staff(principal),
            expected_version=form.version.data,
            payload=payload,
            comment=form.comment.data or None,
        )
        stuck = case.stuck_reason is not None
    day = received_on.strftime("%d/%m/%Y")
    if stuck:
        return (
            f"Fonds enregistrés ({payload['received']} reçus le {day}) : ils diffèrent du "
            f"solde déclaré ({payload['declared']}) de plus que la tolérance de l'AD, le "
            "dossier est bloqué jusqu'à l'explication de l'écart."
        )
    return f"Fonds enregistrés : {payload['received']} reçus le {day}."


def _commented(trigger: str, done: str) -> Any:
    """A trigger whose guard wants the comment in its payload (``has_comment``)."""

    def perform(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
        comment = (form.comment.data or "").strip()
        with rt.engine.transaction() as tx:
            _transfer(tx, principal, case_id, form.version.data)
            tx.fire(
                case_id,
                trigger,
                actor=Actor.staff(principal),
                expected_version=form.version.data,
                payload={"comment": comment},
                comment=comment,
            )
        return done

    return perform


# What the pages show -------------------------------------------------------------------


def _day_fr(iso: str | None) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y") if iso else ""


def transfer_context(session: Session, case: Case, principal: StaffPrincipal) -> dict[str, Any]:
    """What both pages show: the attestation, both accounts, the letter, the AD's
    tolerance."""
    attestation = attestation_of(case)
    account = certified_account(session, case.coop_id)
    old = str(attestation.get("old_account") or "")
    return {
        "attestation": attestation,
        "declared": euros(declared_cents(case) or 0),
        "old_account": grouped(old) if old else "",
        "new_account": grouped(account.iban) if account is not None else "",
        "tolerance": euros(case.coop.ad.transfer_tolerance_cents),
        "letter": letters_of(session, [case.id]).get(case.id),
        "sent_on": _day_fr(((case.data or {}).get("letter") or {}).get("sent_on")),
        "mandataire": latest_with_account(session, case.coop_id),
    }


LETTER = TaskPage(
    SEND_LETTER,
    "Envoyer la lettre à La Banque Postale",
    endpoint=".transfer_letter",
    template="coopflow_admin/processes/transfer_letter.html",
    offered=lambda case: case.process == PROCESS and case.state == READY_TO_SEND,
    forms=(
        page_form(
            SEND_LETTER,
            "sent",
            LetterSentForm,
            ".transfer_letter_sent",
            letter_sent,
            "sent_on",
            prepare=prepare_today("sent_on"),
        ),
    ),
    context=transfer_context,
    triggers=("mark_sent",),
)
FUNDS = TaskPage(
    RECORD_FUNDS,
    "Enregistrer les fonds reçus",
    endpoint=".transfer_funds",
    template="coopflow_admin/processes/transfer_funds.html",
    offered=lambda case: case.process == PROCESS and case.state in AWAITING_FUNDS,
    forms=(
        page_form(
            RECORD_FUNDS,
            "funds",
            FundsForm,
            ".transfer_funds_post",
            record_funds,
            "amount",
            prepare=prepare_today("received_on"),
        ),
    ),
    context=transfer_context,
    triggers=("funds_received",),
)
#: The tasks with a page, by the action they are.
PAGES = (LETTER, FUNDS)

FOLLOW = page_form(
    FOLLOW_UP,
    "follow_up",
    FollowUpForm,
    ".transfer_follow_up",
    _commented(FOLLOW_UP, "Relance de La Banque Postale enregistrée : 30 jours de plus."),
    "comment",
    offered=lambda case: case.state == SENT_TO_BANK,
)
ACCEPT = page_form(
    CHECK_AMOUNT,
    "check_amount",
    AcceptAmountForm,
    ".transfer_accept_amount",
    _commented(CHECK_AMOUNT, "Écart de montant expliqué : le dossier n'est plus bloqué."),
    "comment",
    offered=lambda case: case.state == FUNDS_RECEIVED and case.stuck_reason == MISMATCH,
)
#: The actions with a form on the case page, in the order shown.
FORMS = (FOLLOW, ACCEPT)


class Routes:
    """The routes of :data:`PAGES` and :data:`FORMS`, mixed into
    :class:`admin.cases.CaseView`."""

    @expose("/<int:case_id>/banque-postale/lettre")
    def transfer_letter(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, LETTER)

    @expose("/<int:case_id>/banque-postale/lettre/envoyee", methods=("POST",))
    def transfer_letter_sent(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, LETTER, "sent")

    @expose("/<int:case_id>/banque-postale/fonds")
    def transfer_funds(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, FUNDS)

    @expose("/<int:case_id>/banque-postale/fonds/enregistrer", methods=("POST",))
    def transfer_funds_post(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, FUNDS, "funds")

    @expose("/<int:case_id>/banque-postale/relance", methods=("POST",))
    def transfer_follow_up(self, case_id: int) -> Any:
        return self.staff_action(case_id, FOLLOW)  # type: ignore[attr-defined]

    @expose("/<int:case_id>/banque-postale/ecart", methods=("POST",))
    def transfer_accept_amount(self, case_id: int) -> Any:
        return self.staff_action(case_id, ACCEPT)  # type: ignore[attr-defined]
