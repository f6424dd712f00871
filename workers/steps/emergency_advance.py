"""Steps of ``emergency_advance``: the request sent to the AD's president and treasurer,
the *contrat d'engagement de remboursement de fonds avancés par l'OCCE* (to sign, then
signed: name, time and IP printed on it), and the emails to the mandataire (refused,
repaid, the contract awaiting the signature).

The reviewers' email names the supplier's IBAN masked, as every email does; the contract
names it whole (only the coop's mandataire and its AD's staff may download it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workers.context import StepContext
from workers.documents import Draft
from workers.email_delivery import Delivery, deliver_keys
from workers.email_messages import Composed, compose
from workers.steps.case_emails import load_case
from workers.steps.notifications import notify_mandataire
from workers.steps.paper import (
    Amount,
    Paper,
    cents_of,
    day_of,
    grouped_iban,
    kept,
    mandataire_email,
    mandataire_name,
    moment_of,
    paper_context,
    render_paper,
)
from workflows.engine.errors import PermanentStepError
from workflows.engine.steps import Outcome
from workflows.formatting import date_fr
from workflows.models import Case, CaseEvent, StaffRole, StaffUser
from workflows.processes.emergency_advance.definition import (
    DEFAULT_REPAYMENT_DAYS,
    DEFINITION,
    PROCESS,
    REPAID,
)
from workflows.processes.iban.rib_checks import mask_iban
from workflows.typography import la_cooperative

NO_REQUEST = (
    "La demande d'avance n'est pas complète dans le dossier (projet, prestataire, son IBAN "
    "et le montant) : rien ne peut être établi."
)
NO_SIGNATURE = (
    "La signature du contrat n'est pas enregistrée dans le dossier (nom, heure, adresse IP)."
)
NO_REASON = "Le motif du refus n'est pas enregistré dans le dossier."
#: The back-office's page of a case (``admin``: ``/admin/dossiers/<id>``).
BACK_OFFICE_CASE = "/admin/dossiers/{case_id}"
#: What a request must say for its papers and emails.
REQUIRED = ("project", "pays_for", "supplier", "supplier_iban")

CONTRACT = Paper(
    template="emergency_advance/advance_contract",
    kind="advance_contract",
    title="Contrat d'engagement de remboursement de l'avance",
    stem="contrat-avance",
)
SIGNED_CONTRACT = Paper(
    template="emergency_advance/advance_contract_signed",
    kind="advance_contract_signed",
    title="Contrat d'engagement de remboursement de l'avance (signé)",
    stem="contrat-avance-signe",
)


def request_of(case: Case) -> dict[str, Any]:
    """The request as the portal kept it, as the papers and emails show it (else the
    step fails for good): ``amount`` and ``declared`` as :class:`Amount`, the day of the
    project as « 15/03/2027 »."""
    request = dict((case.data or {}).get("request") or {})
    amount = cents_of(request.get("amount_cents"))
    if (
        amount is None
        or amount <= 0
        or not all(str(request.get(k) or "").strip() for k in REQUIRED)
    ):
        raise PermanentStepError(NO_REQUEST)
    declared = cents_of(request.get("declared_cents"))
    return {
        **request,
        "amount": Amount(amount),
        "declared": Amount(declared) if declared is not None else None,
        "project_day": day_of(request.get("project_on")),
    }


# The reviewers ---------------------------------------------------------------------------


def reviewers(session: Session, ad_id: int) -> list[StaffUser]:
    """Who reviews the AD's advances: its president and treasurer (active officers who
    may act), in the order they were created."""
    return list(
        session.scalars(
            select(StaffUser)
            .where(
                StaffUser.ad_id == ad_id,
                StaffUser.officer_role.is_not(None),
                StaffUser.is_active.is_(True),
                StaffUser.role != StaffRole.READONLY.value,
            )
            .order_by(StaffUser.id)
        )
    )


def notify_reviewers(ctx: StepContext) -> Outcome:
    """The request summarised for the AD's officers, one email each (the AD's own
    address when it has none), with the case's page in the back-office; ``to_review``
    follows (on_done)."""
    with ctx.engine.db.read() as session:
        case = load_case(session, ctx.step.case_id)
        request_of(case)
        people: dict[str, tuple[str, str | None]] = {
            f"{ctx.step.idempotency_key}:staff:{user.id}": (user.email, user.full_name)
            for user in reviewers(session, case.coop.ad_id)
        } or {f"{ctx.step.idempotency_key}:ad": (case.coop.ad.email, None)}
    link = f"{ctx.services.settings.base_url}{BACK_OFFICE_CASE.format(case_id=ctx.step.case_id)}"

    def build(session: Session, keys: list[str]) -> dict[str, Composed | Exception]:
        case = load_case(session, ctx.step.case_id)
        request = request_of(case)
        coop = case.coop
        subject = f"Demande d'avance d'urgence de {la_cooperative(coop.name)} : à examiner"
        return {
            key: compose(
                "review_request",
                people[key][0],
                subject,
                process=PROCESS,
                reviewer_name=people[key][1],
                coop=coop,
                ad=coop.ad,
                request=request,
                supplier_iban=mask_iban(request["supplier_iban"]),
                requested_at=moment_of(request.get("requested_at")) or case.created_at,
                link=link,
                case_id=case.id,
                coop_id=coop.id,
            )
            for key in keys
        }

    results = deliver_keys(ctx, list(people), build)
    failed = next((r for r in results if isinstance(r, Exception)), None)
    if failed is not None:
        raise failed  # those already sent are found stored and not sent again
    sent = [r for r in results if isinstance(r, Delivery)]
    return Outcome(result={"emails": [{"to": d.to, "status": d.status} for d in sent]})


# The contract ----------------------------------------------------------------------------


def _contract_context(ctx: StepContext, session: Session, case: Case) -> dict[str, Any]:
    request = request_of(case)
    days = case.coop.ad.advance_repayment_days or DEFAULT_REPAYMENT_DAYS
    return {
        **paper_context(ctx, session, case),
        "request": request,
        "supplier_iban": grouped_iban(request["supplier_iban"]),
        "mandataire_name": mandataire_name(session, case, request.get("requested_by")),
        "repayment_days": days,
    }


def render_advance_contract(ctx: StepContext) -> Outcome:
    """The contract the mandataire signs in the portal; ``contract_ready`` follows."""

    def build(session: Session) -> Draft:
        case = load_case(session, ctx.step.case_id)
        return CONTRACT.draft(ctx, case, _contract_context(ctx, session, case))

    return render_paper(ctx, "contract", build)


def render_signed_contract(ctx: StepContext) -> Outcome:
    """The same contract with the signature the portal recorded: the name typed, « Lu et
    approuvé », when (Paris) and from which IP address."""

    def build(session: Session) -> Draft:
        case = load_case(session, ctx.step.case_id)
        signature = kept(session, case, "signature", "sign", within="signature")
        signed_at = moment_of(signature.get("signed_at"))
        name = str(signature.get("name") or "").strip()
        if not name or signed_at is None or not signature.get("ip"):
            raise PermanentStepError(NO_SIGNATURE)
        context = _contract_context(ctx, session, case)
        return SIGNED_CONTRACT.draft(
            ctx,
            case,
            {**context, "signature": {"name": name, "at": signed_at, "ip": signature["ip"]}},
        )

    return render_paper(ctx, "signed_contract", build)


# Emails to the mandataire ----------------------------------------------------------------


def notify_rejected(ctx: StepContext) -> Outcome:
    """Refused: the officer's reason, as they wrote it."""

    def context(session: Session, case: Case) -> dict[str, Any]:
        reason = str(kept(session, case, "review", "reject").get("reason") or "").strip()
        if not reason:
            raise PermanentStepError(NO_REASON)
        return {"request": request_of(case), "reason": reason}

    return mandataire_email(
        ctx, DEFINITION, "rejected", "Demande d'avance de {coop} refusée", context
    )


def notify_repaid(ctx: StepContext) -> Outcome:
    """Repaid: by the Banque Postale balance received (the transfer's effect), or as
    staff recorded it."""

    def context(session: Session, case: Case) -> dict[str, Any]:
        entered = session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.to_state == REPAID)
            .order_by(CaseEvent.id.desc())
            .limit(1)
        ).first()
        repayment = dict((case.data or {}).get("repayment") or {})
        fired = entered.trigger if entered is not None else None
        source = repayment.get("source") or ("transfer" if fired == "repay" else "staff")
        repaid_on = day_of(repayment.get("repaid_on")) or date_fr(entered.at if entered else None)
        disbursement = kept(session, case, "disbursement", "disburse")
        return {
            "request": request_of(case),
            "by_transfer": source == "transfer",
            "repaid_on": repaid_on,
            "reference": str(repayment.get("reference") or "").strip(),
            "disbursed_on": day_of(disbursement.get("disbursed_on")),
        }

    return mandataire_email(
        ctx, DEFINITION, "repaid", "L'avance d'urgence de {coop} est remboursée", context
    )


def send_reminder(ctx: StepContext) -> Outcome:
    """The contract awaits the mandataire's signature."""

    def context(_session: Session, case: Case) -> dict[str, Any]:
        return {"request": request_of(case)}

    return mandataire_email(
        ctx,
        DEFINITION,
        "reminder",
        "Rappel : signez le contrat de remboursement de l'avance de {coop}",
        context,
    )


#: The handler of each step of the definition, by step name.
STEPS = {
    "notify_mandataire": notify_mandataire,
    "notify_reviewers": notify_reviewers,
    "render_advance_contract": render_advance_contract,
    "render_signed_contract": render_signed_contract,
    "notify_rejected": notify_rejected,
    "notify_repaid": notify_repaid,
    "send_reminder": send_reminder,
}

#: What this process sends (``templates/emails/emergency_advance/``).
EMAILS = ("review_request", "rejected", "repaid", "reminder")
#: What this process renders (``templates/documents/emergency_advance/``).
DOCUMENTS = ("advance_contract", "advance_contract_signed")
