"""Process ``emergency_advance``: an advance of OCCE while the Banque Postale transfer is
pending (PROCESSES.md §5, seed 002).

Only for a trip or stay already committed: the families' cheques were cashed on the old
account, the supplier must be paid now, the transfer is not done (« nous ne maîtrisons
pas les délais de la Banque Postale »). The mandataire describes it (date, project, what
it pays, the supplier waiting for payment, its IBAN, the amount, a quote or invoice);
the AD's president or treasurer reviews it (a staff role only they hold); approved, a
step renders the *contrat d'engagement de remboursement*, which the mandataire signs in
the portal (full name typed, consent ticked; time and IP recorded and printed on the
signed copy); staff make the transfer and record it; the coop's transfer funds repay it
(an effect of ``banque_postale_transfer``), or staff record a repayment; past the AD's
delay it is overdue.

A case is created by the mandataire's request (no case waits for eligibility): the
portal offers the request only when :data:`ELIGIBILITY` is met, and the request's
transition checks it again.

What the case keeps (``case.data``), written by whoever fires the transition, in its
transaction::

    "request":      {"project": str, "project_on": "2027-03-15", "pays_for": str,
                     "supplier": str, "supplier_iban": "<compact IBAN>",
                     "amount_cents": 80000, "declared_cents": 180000,
                     "quote_document_id": 7, "requested_by": "<name>",
                     "requested_at": "<UTC ISO>"}      (the portal, with ``request``)
    "review":       {"decision": "approved"|"rejected", "reason": str, "by": "<name>",
                     "officer_role": "president"|"treasurer", "at": "<UTC ISO>"}
    "contract":     {"document_id": 8}                  (step render_advance_contract)
    "signature":    {"name": str, "consent": true, "signed_at": "<UTC ISO>",
                     "ip": "<address>"}                  (the portal, with ``sign``)
    "signed_contract": {"document_id": 9}               (step render_signed_contract)
    "disbursement": {"disbursed_on": "2026-10-01", "reference": str, "by": "<name>"}
    "repayment":    {"repaid_on": "2026-11-02", "source": "transfer"|"staff",
                     "by": "<name>", "reference": str}
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from workflows.engine.cross_process import Prerequisite, unmet
from workflows.engine.definition import (
    MANDATAIRE,
    STAFF,
    SYSTEM,
    Definition,
    GuardContext,
    State,
    StepRule,
    StuckRule,
    TaskRule,
    TimerRule,
    text_required,
)
from workflows.engine.definition import Transition as T
from workflows.models import Case, StaffRole, StaffUser
from workflows.processes.affiliation.definition import AFFILIATED
from workflows.processes.banque_postale_transfer import definition as transfer
from workflows.processes.iban import definition as iban
from workflows.processes.kyc import definition as kyc

PROCESS = "emergency_advance"

REQUESTED = "requested"
UNDER_REVIEW = "under_review"
REJECTED = "rejected"
APPROVED = "approved"
AWAITING_SIGNATURE = "awaiting_signature"
SIGNED = "signed"
DISBURSED = "disbursed"
REPAID = "repaid"
OVERDUE = "overdue"

#: What a coop needs to ask for an advance (seed 002: « cette procédure exceptionnelle
#: suppose que vous ayez conduit jusqu'au bout la création du compte pro »).
ELIGIBILITY = (
    kyc.IDENTITY_VERIFIED,
    iban.ACCOUNT_CERTIFIED,
    Prerequisite(
        transfer.PROCESS,
        transfer.PENDING,
        "Seulement pendant le reversement du solde Banque Postale : commencé, pas encore reçu.",
    ),
    AFFILIATED,
)

#: The recommended action of its stuck reason: the repayment recorded by staff.
RECORD_REPAYMENT = "record_repayment"
#: The staff forms (``admin/processes/emergency_advance.py``): the review, the transfer.
REVIEW = "review_advance"
DISBURSE = "disburse"

REASON_MAX = 2000
#: The AD's delay to repay when it has not set one (days after the disbursement).
DEFAULT_REPAYMENT_DAYS = 90


def eligibility_unmet(session: Session, coop_id: int, now: datetime) -> list[str]:
    """The French reasons the coop may not ask for an advance now (empty: it may)."""
    return [p.reason for p in unmet(session, coop_id, ELIGIBILITY, now)]


def _eligible(ctx: GuardContext) -> str | None:
    reasons = eligibility_unmet(ctx.session, ctx.case.coop_id, ctx.now)
    return reasons[0] if reasons else None


_has_reason = text_required(
    "reason",
    empty="Indiquez le motif du refus : le mandataire le lira.",
    maximum=REASON_MAX,
    too_long="Motif trop long ({maximum} caractères au plus).",
)


NOT_AN_OFFICER = (
    "Seuls le président et le trésorier de l'AD de la coopérative examinent les demandes d'avance."
)


def _officer(ctx: GuardContext) -> str | None:
    """The staff member firing it is the president or treasurer of the coop's AD."""
    if ctx.actor_kind != STAFF or ctx.actor_id is None:
        return NOT_AN_OFFICER
    user = ctx.session.get(StaffUser, ctx.actor_id)
    if user is None or not user.is_active or user.officer_role is None:
        return NOT_AN_OFFICER
    if user.ad_id != ctx.case.coop.ad_id or user.role == StaffRole.READONLY.value:
        return NOT_AN_OFFICER
    return None


def _signed(ctx: GuardContext) -> str | None:
    """The signature the portal recorded: the full name as typed, the consent, when and
    from where (printed on the signed copy)."""
    signature = ctx.payload.get("signature") or {}
    if not signature.get("consent"):
        return "Cochez la case pour accepter le contrat."
    if not str(signature.get("name") or "").strip():
        return "Tapez votre nom complet pour signer."
    if not signature.get("signed_at") or not signature.get("ip"):
        return "La signature n'a pas été enregistrée : recommencez."
    return None


def _disbursement(ctx: GuardContext) -> str | None:
    if not ctx.payload.get("disbursed_on"):
        return "Indiquez la date du virement."
    if not str(ctx.payload.get("reference") or "").strip():
        return "Indiquez la référence du virement."
    return None


def repayment_delay(case: Case, _session: Session) -> timedelta:
    """The delay to repay an advance, from its disbursement: the AD's own
    (``ads.advance_repayment_days``)."""
    return timedelta(days=case.coop.ad.advance_repayment_days or DEFAULT_REPAYMENT_DAYS)


STATES = [
    State(
        REQUESTED,
        "Demande d'avance reçue",
        steps=("notify_reviewers",),
        portal_label="Demande envoyée : votre AD va l'examiner",
    ),
    State(
        UNDER_REVIEW,
        "Demande à examiner par le président ou le trésorier de l'AD",
        portal_label="Demande en cours d'examen par votre AD",
        task=TaskRule(
            "advance_review",
            "Examiner la demande d'avance (président ou trésorier)",
            timedelta(days=3),
        ),
    ),
    State(
        REJECTED,
        "Demande d'avance refusée",
        final=True,
        failed=True,
        steps=("notify_rejected",),
        portal_label="Refusée : lisez le motif de votre AD",
    ),
    State(
        APPROVED,
        "Avance accordée, contrat en préparation",
        steps=("render_advance_contract",),
        portal_label="Accordée : votre contrat de remboursement est préparé",
    ),
    State(
        AWAITING_SIGNATURE,
        "Contrat de remboursement à signer par le mandataire",
        steps=("notify_mandataire",),
        mandataire_action="Signer le contrat",
        portal_label="À faire : signez le contrat de remboursement de l'avance",
    ),
    State(
        SIGNED,
        "Contrat signé, virement de l'avance à faire",
        steps=("render_signed_contract",),
        portal_label="Contrat signé : votre AD fait le virement",
        task=TaskRule("advance_transfer", "Faire le virement de l'avance", timedelta(days=2)),
    ),
    State(
        DISBURSED,
        "Avance versée, remboursement attendu",
        portal_label="Avance versée : elle sera remboursée par le solde Banque Postale",
    ),
    State(
        REPAID,
        "Avance remboursée",
        final=True,
        steps=("notify_repaid",),
        portal_label="Terminé : l'avance est remboursée",
    ),
    State(
        OVERDUE,
        "Avance non remboursée dans le délai de l'AD",
        portal_label="En retard : l'avance n'est pas encore remboursée",
        stuck=StuckRule(
            "advance_overdue",
            "L'avance versée n'est pas remboursée dans le délai de l'AD.",
            RECORD_REPAYMENT,
            "Enregistrer le remboursement",
            "Avance non remboursée",
        ),
    ),
]

#: The review: staff, and among them the AD's president or treasurer (guard ``officer``).
_OFFICERS = frozenset({STAFF})
_STAFF_OR_SYSTEM = frozenset({STAFF, SYSTEM})

TRANSITIONS = [
    # The portal creates the case with the request in its data, then fires this.
    T(
        "request",
        REQUESTED,
        REQUESTED,
        "Demande d'avance envoyée",
        by=frozenset({MANDATAIRE}),
        guards=("eligible",),
        bulk=False,
    ),
    T("to_review", REQUESTED, UNDER_REVIEW, "Demande transmise au président et au trésorier"),
    T(
        "approve",
        UNDER_REVIEW,
        APPROVED,
        "Avance accordée",
        by=_OFFICERS,
        guards=("officer",),
        bulk=False,
    ),
    T(
        "reject",
        UNDER_REVIEW,
        REJECTED,
        "Avance refusée",
        by=_OFFICERS,
        guards=("officer", "has_reason"),
        bulk=False,
    ),
    T("contract_ready", APPROVED, AWAITING_SIGNATURE, "Contrat de remboursement prêt"),
    T(
        "sign",
        AWAITING_SIGNATURE,
        SIGNED,
        "Contrat signé par le mandataire",
        by=frozenset({MANDATAIRE}),
        guards=("signed",),
        bulk=False,
    ),
    T(
        DISBURSE,
        SIGNED,
        DISBURSED,
        "Avance versée",
        by=frozenset({STAFF}),
        guards=("has_disbursement",),
        bulk=False,
    ),
    # The coop's transfer funds arrived (effect of ``banque_postale_transfer``), or
    # staff record a repayment.
    T("repay", (DISBURSED, OVERDUE), REPAID, "Avance remboursée", by=_STAFF_OR_SYSTEM),
    T(
        RECORD_REPAYMENT,
        (DISBURSED, OVERDUE),
        REPAID,
        "Remboursement enregistré",
        by=frozenset({STAFF}),
        bulk=False,
    ),
    T("fall_overdue", DISBURSED, OVERDUE, "Délai de remboursement dépassé"),
    T(
        "remind",
        AWAITING_SIGNATURE,
        None,
        "Rappel",
        by=_STAFF_OR_SYSTEM,
        steps=("send_reminder",),
    ),
]

TIMERS = [
    TimerRule(
        "signature_reminder",
        AWAITING_SIGNATURE,
        timedelta(days=3),
        trigger="remind",
        label="Rappel au mandataire : contrat à signer",
    ),
    TimerRule(
        "repayment_due",
        DISBURSED,
        "repayment_delay",
        trigger="fall_overdue",
        label="Échéance du remboursement",
    ),
]

STEPS = [
    StepRule("notify_mandataire", "Email au mandataire : le contrat est à signer"),
    StepRule("notify_reviewers", "Email au président et au trésorier de l'AD", on_done="to_review"),
    StepRule(
        "render_advance_contract",
        "Contrat d'engagement de remboursement (PDF)",
        on_done="contract_ready",
    ),
    StepRule("render_signed_contract", "Contrat signé (PDF)"),
    StepRule("notify_rejected", "Email au mandataire : avance refusée"),
    StepRule("notify_repaid", "Email au mandataire : avance remboursée"),
    StepRule("send_reminder", "Rappel au mandataire"),
]

DEFINITION = Definition(
    name=PROCESS,
    version=1,
    title="Avance d'urgence",
    initial=REQUESTED,
    states=STATES,
    transitions=TRANSITIONS,
    timers=TIMERS,
    steps=STEPS,
    guards={
        "eligible": _eligible,
        "officer": _officer,
        "has_reason": _has_reason,
        "signed": _signed,
        "has_disbursement": _disbursement,
    },
    durations={"repayment_delay": repayment_delay},
    duration_labels={"repayment_delay": "le délai de remboursement de l'AD"},
    checklist_position=8,
    portal_path="/mon-espace/avance",
    request_action="Demander une avance",
    offered_when=ELIGIBILITY,
)
