"""Process ``banque_postale_transfer``: moving the coop's old balance from La Banque
Postale to its new account (PROCESSES.md §4, seed 002).

Once the mandataire's identity is verified and the new account certified, the mandataire
fills a short attestation (« Répondez impérativement à ce formulaire sinon… vous
attendrez en vain le solde »): all cheques issued debited, all cheques deposited until
July cashed, no operation since the start of the school year; with the old account
number and its balance. A step renders the letter to La Banque Postale (*demande de
clôture et de reversement du solde*); staff print the day's letters, post them and mark
them sent; the funds arrive (Swan's incoming transfer, or staff record them), and an
outstanding emergency advance of the coop is repaid in the same transaction (effect).
La Banque Postale has no API: everything it does, staff record.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from workflows.engine.cross_process import Effect
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
from workflows.processes.iban import definition as iban
from workflows.processes.kyc import definition as kyc

PROCESS = "banque_postale_transfer"

WAITING = "waiting"
AWAITING_ATTESTATION = "awaiting_attestation"
ATTESTED = "attested"
READY_TO_SEND = "ready_to_send"
SENT_TO_BANK = "sent_to_bank"
FUNDS_RECEIVED = "funds_received"
CLOSED = "closed"

#: The states of a transfer started and not funded yet (what an advance needs).
PENDING = (AWAITING_ATTESTATION, ATTESTED, READY_TO_SEND, SENT_TO_BANK)

#: The three statements of the attestation (seed 002), each a required box.
STATEMENTS = {
    "cheques_issued": "Tous les chèques émis ont été débités.",
    "cheques_deposited": "Tous les chèques déposés (jusqu'en juillet) ont été encaissés.",
    "no_operation": "Aucune opération n'a été faite sur le compte depuis la rentrée.",
}

#: The recommended actions of its stuck reasons (staff forms of the back-office).
RELAUNCH = "relaunch"
FOLLOW_UP = "follow_up_bank"
CHECK_AMOUNT = "accept_amount"

COMMENT_MAX = 2000
#: The stuck reason of funds that differ from the declared balance.
AMOUNT_MISMATCH = "transfer_amount_mismatch"

#: The advance's trigger the funds fire (``emergency_advance``'s ``repay``).
ADVANCE = "emergency_advance"


def _attested(ctx: GuardContext) -> str | None:
    """The attestation stored in the case (by the portal) says all three statements,
    the old account and a balance."""
    attestation = (ctx.case.data or {}).get("attestation") or {}
    if not all(attestation.get(key) is True for key in STATEMENTS):
        return "Cochez les trois déclarations de l'attestation."
    if not attestation.get("old_account"):
        return "Indiquez le numéro du compte La Banque Postale."
    if not isinstance(attestation.get("declared_cents"), int):
        return "Indiquez le solde du compte La Banque Postale."
    return None


def _has_funds(ctx: GuardContext) -> str | None:
    received = ctx.payload.get("received_cents")
    if not isinstance(received, int) or isinstance(received, bool) or received <= 0:
        return "Indiquez le montant reçu, supérieur à 0,00 €."
    if not ctx.payload.get("received_on"):
        return "Indiquez la date de réception des fonds."
    return None


_has_comment = text_required(
    "comment",
    empty="Dites pourquoi dans le commentaire.",
    maximum=COMMENT_MAX,
    too_long="Commentaire trop long ({maximum} caractères au plus).",
)


def _amount_explained(ctx: GuardContext) -> str | None:
    if ctx.case.stuck_reason == AMOUNT_MISMATCH:
        return (
            "Le montant reçu diffère du solde déclaré : vérifiez-le (« Vérifier le montant "
            "reçu ») avant de confirmer la clôture."
        )
    return None


def _beyond_tolerance(payload: dict[str, Any]) -> bool:
    """The funds differ from the declared balance by more than the AD's tolerance. The
    payload of ``funds_received`` carries the three in cents (``received_cents``,
    ``declared_cents``, ``tolerance_cents``) and, for the stuck sentence, as shown
    (``received``, ``declared``, ``difference``, ``tolerance``: « 1 800,00 € »)."""
    if "received_cents" not in payload:
        return False
    difference = abs(int(payload["received_cents"]) - int(payload["declared_cents"]))
    return difference > int(payload["tolerance_cents"])


STATES = [
    State(WAITING, "En attente de l'identité vérifiée et du compte certifié"),
    State(
        AWAITING_ATTESTATION,
        "Attestation à remplir par le mandataire",
        # Told at once (« Une démarche vous attend »), not only by the reminder at 7 days.
        steps=("notify_mandataire",),
        mandataire_action="Remplir l'attestation",
        portal_label="À faire : remplissez l'attestation pour recevoir le solde",
    ),
    State(
        ATTESTED,
        "Attestation reçue, lettre à La Banque Postale en préparation",
        steps=("render_transfer_request",),
        portal_label="Attestation reçue : la demande à La Banque Postale est préparée",
    ),
    State(
        READY_TO_SEND,
        "Lettre à envoyer à La Banque Postale",
        portal_label="Attestation reçue : votre AD envoie la demande à La Banque Postale",
        task=TaskRule(
            "transfer_letter",
            "Imprimer et envoyer la lettre à La Banque Postale",
            timedelta(days=7),
        ),
    ),
    State(
        SENT_TO_BANK,
        "Lettre envoyée, solde attendu de La Banque Postale",
        portal_label="Demande envoyée : La Banque Postale doit reverser le solde",
    ),
    State(
        FUNDS_RECEIVED,
        "Solde reçu sur le nouveau compte",
        steps=("notify_funds_received",),
        portal_label="Solde reçu sur le compte de la coopérative",
        stuck=StuckRule(
            AMOUNT_MISMATCH,
            "Le montant reçu ({received}) diffère du solde déclaré ({declared}) de "
            "{difference}, plus que la tolérance de l'AD ({tolerance}).",
            CHECK_AMOUNT,
            "Vérifier le montant reçu",
            "Montant reçu différent du solde",
        ),
        stuck_when=_beyond_tolerance,
        task=TaskRule(
            "transfer_closing",
            "Confirmer la clôture du compte La Banque Postale",
            timedelta(days=30),
        ),
    ),
    State(CLOSED, "Ancien compte clos, solde reversé", final=True),
]

_STAFF_OR_SYSTEM = frozenset({STAFF, SYSTEM})

TRANSITIONS = [
    T("start", WAITING, AWAITING_ATTESTATION, "Identité vérifiée et compte certifié"),
    # The portal stores the attestation in the case, then fires this.
    T(
        "attest",
        AWAITING_ATTESTATION,
        ATTESTED,
        "Attestation remplie",
        by=frozenset({MANDATAIRE}),
        guards=("attested",),
        bulk=False,
    ),
    T("letter_ready", ATTESTED, READY_TO_SEND, "Lettre à La Banque Postale prête"),
    # Staff print the day's letters (one PDF) and mark them sent, in bulk.
    T("mark_sent", READY_TO_SEND, SENT_TO_BANK, "Lettre envoyée", by=frozenset({STAFF})),
    # Swan's incoming transfer (re-queried), or staff recording what the bank paid; a
    # letter posted but not marked sent does not hold the funds back.
    T(
        "funds_received",
        (READY_TO_SEND, SENT_TO_BANK),
        FUNDS_RECEIVED,
        "Solde reçu",
        by=_STAFF_OR_SYSTEM,
        guards=("has_funds",),
        bulk=False,
    ),
    # « Vérifier le montant reçu »: the difference explained, the stuck mark lifted;
    # the funds were received once (their email, the closing task, the advance repaid).
    T(
        CHECK_AMOUNT,
        FUNDS_RECEIVED,
        None,
        "Écart de montant expliqué",
        by=frozenset({STAFF}),
        guards=("has_comment",),
        bulk=False,
        unsticks=True,
    ),
    # Not while the amount received is unexplained.
    T(
        "close_account",
        FUNDS_RECEIVED,
        CLOSED,
        "Clôture du compte confirmée",
        by=frozenset({STAFF}),
        guards=("amount_explained",),
    ),
    T(
        "remind",
        AWAITING_ATTESTATION,
        None,
        "Rappel",
        by=_STAFF_OR_SYSTEM,
        steps=("send_reminder",),
    ),
    # « Relancer le mandataire »: a reminder sent, the timers started again.
    T(
        RELAUNCH,
        AWAITING_ATTESTATION,
        AWAITING_ATTESTATION,
        "Mandataire relancé",
        by=frozenset({STAFF}),
        steps=("send_reminder",),
    ),
    # « Relancer La Banque Postale »: the follow-up recorded, 30 more days.
    T(
        FOLLOW_UP,
        SENT_TO_BANK,
        SENT_TO_BANK,
        "La Banque Postale relancée",
        by=frozenset({STAFF}),
        guards=("has_comment",),
        bulk=False,
    ),
]

_ATTESTATION_LATE = StuckRule(
    "transfer_attestation_late",
    "L'attestation pour le reversement du solde n'est pas revenue après 21 jours.",
    RELAUNCH,
    "Relancer le mandataire",
    "Attestation non retournée",
)

TIMERS = [
    TimerRule(
        "reminder_7",
        AWAITING_ATTESTATION,
        timedelta(days=7),
        trigger="remind",
        label="Rappel au mandataire (7 jours)",
    ),
    TimerRule(
        "reminder_14",
        AWAITING_ATTESTATION,
        timedelta(days=14),
        trigger="remind",
        label="Rappel au mandataire (14 jours)",
    ),
    TimerRule(
        "attestation_late",
        AWAITING_ATTESTATION,
        timedelta(days=21),
        stuck=_ATTESTATION_LATE,
        label="Attestation attendue depuis 21 jours",
    ),
    TimerRule(
        "no_funds",
        SENT_TO_BANK,
        timedelta(days=30),
        stuck=StuckRule(
            "transfer_no_funds",
            "Aucun versement de La Banque Postale 30 jours après l'envoi de la lettre.",
            FOLLOW_UP,
            "Relancer La Banque Postale",
            "Solde non reçu",
        ),
        label="Solde attendu depuis 30 jours",
    ),
]

STEPS = [
    StepRule("notify_mandataire", "Email au mandataire : l'attestation l'attend"),
    StepRule(
        "render_transfer_request",
        "Lettre à La Banque Postale : clôture et reversement du solde (PDF)",
        on_done="letter_ready",
    ),
    StepRule("send_reminder", "Rappel au mandataire"),
    StepRule("notify_funds_received", "Email au mandataire : solde reçu"),
]

DEFINITION = Definition(
    name=PROCESS,
    version=1,
    title="Reversement du solde Banque Postale",
    initial=WAITING,
    start_trigger="start",
    states=STATES,
    transitions=TRANSITIONS,
    timers=TIMERS,
    steps=STEPS,
    guards={
        "attested": _attested,
        "has_funds": _has_funds,
        "has_comment": _has_comment,
        "amount_explained": _amount_explained,
    },
    prerequisites=(
        kyc.IDENTITY_VERIFIED,
        iban.ACCOUNT_CERTIFIED,
    ),
    effects=(Effect(FUNDS_RECEIVED, ADVANCE, "repay"),),
    checklist_position=6,
    checklist_title="Reversement du solde Banque Postale",
    portal_path="/mon-espace/solde-banque-postale",
)
