"""Steps of ``iban``: the checks of a submitted RIB, its certification at Swan, and the
emails to the mandataire.

The full IBAN is only in ``bank_accounts`` (and, for the certification, in the call to
Swan): results, payloads, emails and logs carry it masked.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workers.context import StepContext
from workers.email_delivery import deliver_for_step
from workers.email_messages import Composed
from workers.steps.case_emails import case_email, load_case
from workers.steps.notifications import notify_mandataire
from workflows import swan_events
from workflows.engine.errors import PermanentStepError
from workflows.engine.steps import Outcome
from workflows.formatting import paris
from workflows.mandataires import latest_with_account
from workflows.models import BankAccount, Case, CaseEvent, Mandataire
from workflows.processes.iban import rib_checks
from workflows.processes.iban.accounts import expected_holders
from workflows.processes.iban.definition import DEFINITION, PROCESS, REJECTED
from workflows.processes.iban.rib_checks import RibInput, mask_iban

log = logging.getLogger(__name__)

NO_MANDATAIRE = "Aucun mandataire de cette coopérative n'a encore de compte sur la plateforme."
NO_RIB = "Aucun RIB déposé n'est rattaché à ce dossier."

#: ``bank_accounts.status`` (see the model): the checks' verdicts are among them.
SUBMITTED, REFUSED, CERTIFIED, REPLACED = "submitted", "rejected", "certified", "replaced"
CHECKED = ("rejected", "needs_review", "verified")
#: The trigger each verdict of the checks fires.
VERDICT_TRIGGERS = {"rejected": "reject", "needs_review": "to_review", "verified": "accept"}

#: The fields of the RIB form, as the mandataire reads them next to a refusal.
FIELD_LABELS = {
    "iban": "IBAN",
    "bic": "BIC",
    "holder": "Titulaire du compte",
    "rib_date": "Date du RIB",
    "file": "RIB (fichier)",
    "document": "RIB (fichier)",
    #: A reason staff wrote themselves (the review's « Autre motif »).
    "other": "Autre motif",
}


def _portal_link(ctx: StepContext) -> str:
    return f"{ctx.services.settings.base_url}{DEFINITION.portal_path}"


# check_rib -------------------------------------------------------------------------------


def check_rib(ctx: StepContext) -> Outcome:
    """The checks of :mod:`workflows.processes.iban.rib_checks` on the RIB the case
    waits on, their verdict kept on it; run again, the verdict kept is answered."""
    with ctx.engine.transaction() as tx:
        case = tx.lock(ctx.step.case_id)
        account = _bank_account(tx.session, case, lock=True)
        if account.status == SUBMITTED:
            coop = case.coop
            verdict = rib_checks.check_rib(
                RibInput(account.iban, account.bic, account.holder, account.rib_date),
                today=paris(tx.now).date(),
                expected_holders=expected_holders(coop.ad.code, coop.name),
            )
            account.errors = dict(verdict.errors)
            account.review = {"reasons": list(verdict.review)}
            account.iban = verdict.iban or account.iban
            account.bic = verdict.bic or account.bic
            account.status = verdict.outcome
        elif account.status not in CHECKED:
            raise PermanentStepError(
                f"Le RIB {mask_iban(account.iban)} n'attend plus de contrôle "
                f"(état « {account.status} »)."
            )
        trigger = VERDICT_TRIGGERS[account.status]
        payload: dict[str, Any] = {"bank_account_id": account.id}
        if trigger == "reject":
            payload["errors"] = dict(account.errors)
        elif trigger == "to_review":
            # Also the note of the review task: the reasons as one text.
            payload["review"] = " ".join(account.review.get("reasons") or [])
        result = {"bank_account_id": account.id, "iban": mask_iban(account.iban)}
    return Outcome(trigger, payload=payload, result={**result, "verdict": account.status})


def _bank_account(session: Session, case: Case, *, lock: bool = False) -> BankAccount:
    """The RIB the case is about: the one noted when it was submitted (else the one its
    last ``submit_rib`` named)."""
    account_id = case.data.get("bank_account_id")
    if account_id is None:
        submitted = session.scalars(
            select(CaseEvent.payload)
            .where(CaseEvent.case_id == case.id, CaseEvent.trigger == "submit_rib")
            .order_by(CaseEvent.id.desc())
            .limit(1)
        ).first()
        account_id = (submitted or {}).get("bank_account_id")
    account = (
        session.get(
            BankAccount,
            int(account_id),
            with_for_update=True if lock else None,
            populate_existing=lock,
        )
        if account_id is not None
        else None
    )
    if account is None or account.case_id != case.id:
        raise PermanentStepError(NO_RIB)
    return account


# certify_account -------------------------------------------------------------------------


def certify_account(ctx: StepContext) -> Outcome:
    """Tell Swan the coop's checked account (a trusted beneficiary of the coop's Swan
    account: asked twice, Swan answers the same one), then keep it as the coop's
    certified account, the earlier one replaced. ``certified`` follows (on_done)."""
    with ctx.engine.db.read() as session:
        case = load_case(session, ctx.step.case_id)
        account = _bank_account(session, case)
        if account.status == CERTIFIED:
            return Outcome(result=_certified_result(account))
        if account.status in (REFUSED, REPLACED):
            raise PermanentStepError(
                f"Le RIB {mask_iban(account.iban)} a été refusé ou remplacé : "
                "il ne peut plus être certifié."
            )
        swan_account = swan_events.tied(session, "account", coop_id=case.coop_id)
        iban, holder = account.iban, account.holder
    beneficiary = ctx.services.swan.certify_account(swan_account, iban, holder)

    with ctx.engine.transaction() as tx:
        case = tx.lock(ctx.step.case_id)
        account = _bank_account(tx.session, case, lock=True)
        if account.status != CERTIFIED:
            swan_events.tie(tx, case, "beneficiary", beneficiary.id)
            tx.session.execute(
                update(BankAccount)
                .where(
                    BankAccount.coop_id == case.coop_id,
                    BankAccount.status == CERTIFIED,
                    BankAccount.id != account.id,
                )
                .values(status=REPLACED)
                .execution_options(synchronize_session=False)
            )
            account.status = CERTIFIED
            account.provider_ref = beneficiary.id
            account.certified_at = tx.now
        result = _certified_result(account)
    log.info("bank account certified", extra={**ctx.log_extra, "iban": result["iban"]})
    return Outcome(result=result)


def _certified_result(account: BankAccount) -> dict[str, Any]:
    return {
        "bank_account_id": account.id,
        "iban": mask_iban(account.iban),
        "beneficiary_id": account.provider_ref,
    }


# Emails ----------------------------------------------------------------------------------


def notify_rejected(ctx: StepContext) -> Outcome:
    """The RIB is refused: each reason next to the field it is about."""

    def build(session: Session) -> Composed:
        case, mandataire = _case_and_mandataire(session, ctx.step.case_id)
        errors, note = rejection_of(session, case)
        return case_email(
            PROCESS,
            "rejected",
            "RIB refusé pour {coop} : voici ce qui ne va pas",
            case,
            mandataire,
            link=_portal_link(ctx),
            errors=errors,
            note=note,
        )

    delivery = deliver_for_step(ctx, build)
    return Outcome(result={"email_status": delivery.status})


def rejection_of(session: Session, case: Case) -> tuple[list[tuple[str, str]], str | None]:
    """Why the RIB was refused, as ``(field label, message)`` pairs, and the note of the
    AD's team when a person refused it. Read from the transition into ``rejected``
    (the checks' ``errors``, or the review's ``errors`` and ``message``), else from the
    RIB's own errors."""
    entered = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.to_state == REJECTED)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    ).first()
    payload = entered.payload if entered is not None else {}
    errors = payload.get("errors")
    if not isinstance(errors, dict) or not errors:
        account_id = payload.get("bank_account_id") or case.data.get("bank_account_id")
        account = session.get(BankAccount, int(account_id)) if account_id else None
        errors = account.errors if account is not None else {}
    labelled = [(FIELD_LABELS.get(str(k), "RIB"), _message(v)) for k, v in errors.items()]
    # The message staff wrote for the mandataire (their comment is for the history).
    note = str(payload.get("message") or "").strip()
    return labelled, note or None


def _message(value: Any) -> str:
    """An error kept as one message or as a list of them."""
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def notify_certified(ctx: StepContext) -> Outcome:
    """The account is certified: which one (masked), and what to do if it is not the
    coop's."""

    def build(session: Session) -> Composed:
        case, mandataire = _case_and_mandataire(session, ctx.step.case_id)
        account = _bank_account(session, case)
        return case_email(
            PROCESS,
            "certified",
            "Compte bancaire de {coop} certifié",
            case,
            mandataire,
            link=_portal_link(ctx),
            iban=mask_iban(account.iban),
            bic=account.bic,
            holder=account.holder,
        )

    delivery = deliver_for_step(ctx, build)
    return Outcome(result={"email_status": delivery.status})


def send_reminder(ctx: StepContext) -> Outcome:
    """No RIB yet (or a refused one not replaced): what to send, again."""

    def build(session: Session) -> Composed:
        case, mandataire = _case_and_mandataire(session, ctx.step.case_id)
        subject = (
            "Rappel : déposez un nouveau RIB pour {coop}"
            if case.state == REJECTED
            else "Rappel : déposez le RIB de {coop}"
        )
        return case_email(PROCESS, "reminder", subject, case, mandataire, link=_portal_link(ctx))

    delivery = deliver_for_step(ctx, build)
    return Outcome(result={"email_status": delivery.status})


def _case_and_mandataire(session: Session, case_id: int) -> tuple[Case, Mandataire]:
    case = load_case(session, case_id)
    mandataire = latest_with_account(session, case.coop_id)
    if mandataire is None:
        raise PermanentStepError(NO_MANDATAIRE)
    return case, mandataire


#: The handler of each step of the definition, by step name.
STEPS = {
    "check_rib": check_rib,
    "certify_account": certify_account,
    "send_reminder": send_reminder,
    "notify_rejected": notify_rejected,
    "notify_certified": notify_certified,
    # « Une démarche vous attend » (at most one a day per coop, whatever the process).
    "notify_mandataire": notify_mandataire,
}

#: What this process sends (``templates/emails/iban/``).
EMAILS = ("rejected", "certified", "reminder")
