"""Process ``card_order``: the coop's bank card, one per order whatever fails
(PROCESSES.md §6, seed 002).

Once the mandataire's identity is verified, the coop's account certified and this
school year's affiliation validated, the mandataire orders the card in the portal: the
delivery address is the school's (« indiquez bien l'adresse de l'école »: cards sent
elsewhere come back to the AD), another one needs a reason and a staff approval; they
confirm they are responsible for the card. A step orders it from Swan, which has no
idempotency key on card mutations: the step records its intent before calling and asks
Swan for the coop's physical card before ordering again (the handler's part). Swan's
physical card statuses (``Card.Updated`` webhooks, re-queried, and polling) move the
case: consent, printing, shipping, activation. A card that arrives at the AD's office
instead of the school is recorded by staff, then sent on or handed over.

What the case keeps (``case.data``), written by whoever fires the transition::

    "request": {"address": {"line1", "line2", "postal_code", "city", "country": "FRA"},
                "school_address": true|false, "reason": str (another address),
                "printed_line": str (≤ 26), "holder": str (as Swan prints it),
                "responsible": true, "requested_by": "<name>", "requested_at": "<UTC ISO>"}
    "order":    {"intent_at": "<UTC ISO>", "card_id": str, "ordered_at": ...}
    "card":     {"status": "<PhysicalCardStatus>", "consent_url": str,
                 "tracking_number": str, "estimated_delivery": "2026-11-12"}
    "return":   {"received_on": "2026-11-20", "by": "<name>", "outcome": "resent"|"handed_over"}
"""

from __future__ import annotations

from datetime import timedelta

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
from workflows.processes.affiliation.definition import AFFILIATED
from workflows.processes.iban import definition as iban
from workflows.processes.kyc import definition as kyc

PROCESS = "card_order"

WAITING = "waiting"
TO_ORDER = "to_order"
REQUESTED = "requested"
ORDERING = "ordering"
CONSENT_PENDING = "consent_pending"
PROCESSING = "processing"
SHIPPED = "shipped"
ACTIVATED = "activated"
RETURNED_TO_AD = "returned_to_ad"
CANCELLED = "cancelled"

#: Swan's ``PhysicalCardStatus`` → the trigger that moves the case to match it (the
#: sync step fires it when it is allowed from where the case is; the others change
#: nothing: a late or repeated status never moves a case back).
SWAN_STATUSES = {
    "ConsentPending": "consent_needed",
    "Processing": "printing",
    "ToActivate": "shipped_by_swan",
    "Activated": "activate",
    "Canceling": "cancel_by_swan",
    "Canceled": "cancel_by_swan",
}
#: Statuses of a card already activated (its order is over): the portal shows them.
AFTER_ACTIVATION = frozenset({"Suspended", "ToRenew", "Renewed"})

#: The recommended actions of its stuck reasons.
RELAUNCH_CONSENT = "relaunch_consent"
FOLLOW_UP = "follow_up_card"
RELAUNCH_ACTIVATION = "relaunch_activation"
RESEND = "resend"
HAND_OVER = "hand_over"

COMMENT_MAX = 2000
#: Swan's limits (PROVIDERS.md): the card's printed line, the holder's printed name.
PRINTED_LINE_MAX = 26
HOLDER_PRINTED_MAX = 20

_STAFF_OR_SYSTEM = frozenset({STAFF, SYSTEM})
_STAFF = frozenset({STAFF})
_MANDATAIRE = frozenset({MANDATAIRE})


def _has_request(ctx: GuardContext) -> str | None:
    """The request the portal stored in the case: an address, the mandataire's
    responsibility confirmed."""
    request = (ctx.case.data or {}).get("request") or {}
    if not request.get("address"):
        return "Indiquez l'adresse de livraison de la carte."
    if request.get("responsible") is not True:
        return "Confirmez que vous êtes responsable de la carte de la coopérative."
    return None


def _at_school(ctx: GuardContext) -> str | None:
    request = (ctx.case.data or {}).get("request") or {}
    if request.get("school_address") is not True:
        return "Une adresse autre que celle de l'école doit être approuvée par votre AD."
    return None


def _elsewhere(ctx: GuardContext) -> str | None:
    request = (ctx.case.data or {}).get("request") or {}
    if request.get("school_address") is True:
        return "La carte est livrée à l'école : rien à approuver."
    if not str(request.get("reason") or "").strip():
        return "Dites pourquoi la carte ne peut pas être livrée à l'école."
    return None


_has_comment = text_required(
    "comment",
    empty="Dites ce qui a été fait dans le commentaire.",
    maximum=COMMENT_MAX,
    too_long="Commentaire trop long ({maximum} caractères au plus).",
)
_has_reason = text_required(
    "reason",
    empty="Indiquez pourquoi l'adresse est refusée : le mandataire le lira.",
    maximum=COMMENT_MAX,
    too_long="Motif trop long ({maximum} caractères au plus).",
)


def _returned_on(ctx: GuardContext) -> str | None:
    if not ctx.payload.get("received_on"):
        return "Indiquez le jour où la carte est arrivée à l'AD."
    return None


STATES = [
    State(WAITING, "En attente de l'identité, du compte et de l'affiliation"),
    State(
        TO_ORDER,
        "Carte à commander par le mandataire",
        steps=("notify_mandataire",),
        mandataire_action="Commander la carte",
        portal_label="À faire : commandez la carte de la coopérative",
    ),
    State(
        REQUESTED,
        "Adresse de livraison à approuver par l'AD",
        portal_label="Demandée : votre AD vérifie l'adresse de livraison",
        task=TaskRule(
            "card_address_review",
            "Approuver l'adresse de livraison de la carte",
            timedelta(days=3),
            note_from="reason",
        ),
    ),
    State(
        ORDERING,
        "Commande de la carte auprès de Swan",
        steps=("order_card",),
        portal_label="Commandée : la carte est demandée à la banque",
    ),
    State(
        CONSENT_PENDING,
        "Accord du mandataire attendu par Swan",
        mandataire_action="Donner votre accord à la banque",
        portal_label="À faire : donnez votre accord à la banque pour la carte",
    ),
    State(
        PROCESSING,
        "Carte en fabrication",
        portal_label="En fabrication par la banque",
    ),
    State(
        SHIPPED,
        "Carte envoyée, activation attendue",
        steps=("notify_shipped",),
        mandataire_action="Activer la carte",
        portal_label="Envoyée : activez la carte dès réception",
    ),
    State(
        ACTIVATED,
        "Carte activée",
        final=True,
        steps=("notify_activated",),
        portal_label="Terminé : la carte est activée",
    ),
    State(
        RETURNED_TO_AD,
        "Carte revenue à l'AD",
        steps=("notify_returned",),
        portal_label="Votre carte est arrivée à votre AD : elle vous la fait parvenir",
        stuck=StuckRule(
            "card_returned_to_ad",
            "La carte est arrivée à l'AD au lieu de l'école : à renvoyer ou à remettre.",
            RESEND,
            "Renvoyer la carte",
            "Carte revenue à l'AD",
        ),
    ),
    State(
        CANCELLED,
        "Commande annulée",
        final=True,
        failed=True,
        portal_label="Annulée",
    ),
]

#: The sync step's triggers: Swan's statuses mapped (fired only where allowed).
_SYNCED = (ORDERING, CONSENT_PENDING, PROCESSING, SHIPPED)

TRANSITIONS = [
    T("start", WAITING, TO_ORDER, "Identité vérifiée, compte certifié, affiliation validée"),
    # The portal stores the request in the case, then fires one of these two.
    T(
        "request",
        TO_ORDER,
        ORDERING,
        "Carte commandée (livraison à l'école)",
        by=_MANDATAIRE,
        guards=("has_request", "at_school"),
        bulk=False,
    ),
    T(
        "request_elsewhere",
        TO_ORDER,
        REQUESTED,
        "Carte commandée, livraison hors de l'école à approuver",
        by=_MANDATAIRE,
        guards=("has_request", "elsewhere"),
        bulk=False,
    ),
    T("approve_address", REQUESTED, ORDERING, "Adresse de livraison approuvée", by=_STAFF),
    T(
        "refuse_address",
        REQUESTED,
        TO_ORDER,
        "Adresse de livraison refusée",
        by=_STAFF,
        guards=("has_reason",),
        bulk=False,
        steps=("notify_address_refused",),
    ),
    # Swan's statuses, read by the step order_card (its answer) and sync_card.
    T("consent_needed", ORDERING, CONSENT_PENDING, "Swan attend l'accord du mandataire"),
    T("printing", (ORDERING, CONSENT_PENDING), PROCESSING, "Carte en fabrication"),
    T(
        "shipped_by_swan",
        (ORDERING, CONSENT_PENDING, PROCESSING),
        SHIPPED,
        "Carte envoyée par la banque",
    ),
    # Not from returned_to_ad: nothing asks Swan there (the card is in the AD's hands).
    T("activate", _SYNCED, ACTIVATED, "Carte activée"),
    # Swan's Canceling or Canceled, read where the case asks Swan (from any open state
    # in the diagrams: a way out, drawn once).
    T("cancel_by_swan", "*", CANCELLED, "Carte annulée par la banque"),
    # A webhook (Card.Updated) or a polling timer: ask Swan again.
    T(
        "sync",
        _SYNCED,
        None,
        "Statut demandé à Swan",
        by=_STAFF_OR_SYSTEM,
        steps=("sync_card",),
    ),
    # The card arrived at the AD's office instead of the school.
    T(
        "record_return",
        SHIPPED,
        RETURNED_TO_AD,
        "Carte revenue à l'AD",
        by=_STAFF,
        guards=("returned_on",),
        bulk=False,
    ),
    T(RESEND, RETURNED_TO_AD, SHIPPED, "Carte renvoyée à l'école", by=_STAFF, bulk=False),
    T(HAND_OVER, RETURNED_TO_AD, SHIPPED, "Carte remise au mandataire", by=_STAFF, bulk=False),
    # Reminders: the consent Swan waits for, the activation.
    T(
        RELAUNCH_CONSENT,
        CONSENT_PENDING,
        None,
        "Mandataire relancé : accord à donner",
        by=_STAFF_OR_SYSTEM,
        steps=("send_reminder",),
    ),
    T(
        RELAUNCH_ACTIVATION,
        SHIPPED,
        None,
        "Mandataire relancé : carte à activer",
        by=_STAFF_OR_SYSTEM,
        steps=("send_reminder",),
    ),
    # « Relancer la banque »: the follow-up recorded, 10 more days.
    T(
        FOLLOW_UP,
        PROCESSING,
        PROCESSING,
        "Banque relancée",
        by=_STAFF,
        guards=("has_comment",),
        bulk=False,
        steps=("sync_card",),
    ),
    T(
        "cancel",
        "*",
        CANCELLED,
        "Commande annulée",
        by=_STAFF,
        guards=("has_comment",),
        bulk=False,
    ),
]

TIMERS = [
    TimerRule(
        "consent_reminder",
        CONSENT_PENDING,
        timedelta(days=3),
        trigger=RELAUNCH_CONSENT,
        label="Rappel au mandataire : accord à donner (3 jours)",
    ),
    TimerRule(
        "consent_late",
        CONSENT_PENDING,
        timedelta(days=7),
        stuck=StuckRule(
            "card_consent_pending",
            "Swan attend l'accord du mandataire pour la carte depuis 7 jours.",
            RELAUNCH_CONSENT,
            "Relancer le mandataire",
            "Accord pour la carte en attente",
        ),
        label="Accord attendu depuis 7 jours",
    ),
    TimerRule(
        "processing_poll",
        PROCESSING,
        timedelta(days=1),
        trigger="sync",
        label="Statut demandé à Swan (1 jour)",
    ),
    TimerRule(
        "processing_late",
        PROCESSING,
        timedelta(days=10),
        stuck=StuckRule(
            "card_processing_late",
            "La carte est en fabrication depuis plus de 10 jours.",
            FOLLOW_UP,
            "Relancer la banque",
            "Carte en fabrication trop longtemps",
        ),
        label="Fabrication depuis 10 jours",
    ),
    TimerRule(
        "activation_reminder",
        SHIPPED,
        timedelta(days=7),
        trigger=RELAUNCH_ACTIVATION,
        label="Rappel au mandataire : carte à activer (7 jours)",
    ),
    TimerRule(
        "shipped_poll",
        SHIPPED,
        timedelta(days=2),
        trigger="sync",
        label="Statut demandé à Swan (2 jours)",
    ),
    TimerRule(
        "not_activated",
        SHIPPED,
        timedelta(days=15),
        stuck=StuckRule(
            "card_not_activated",
            "La carte envoyée il y a plus de 15 jours n'est pas activée : est-elle arrivée "
            "à l'école ?",
            RELAUNCH_ACTIVATION,
            "Relancer le mandataire",
            "Carte envoyée, pas activée",
        ),
        label="Envoyée depuis 15 jours, pas activée",
    ),
]

STEPS = [
    StepRule("notify_mandataire", "Email au mandataire : la carte est à commander"),
    StepRule("order_card", "Commande de la carte à Swan (une seule, quoi qu'il arrive)"),
    StepRule("sync_card", "Statut de la carte demandé à Swan"),
    StepRule("notify_shipped", "Email au mandataire : carte envoyée"),
    StepRule("notify_activated", "Email au mandataire : carte activée, le code PIN"),
    StepRule("notify_returned", "Email au mandataire : carte revenue à l'AD"),
    StepRule("notify_address_refused", "Email au mandataire : adresse de livraison refusée"),
    StepRule("send_reminder", "Rappel au mandataire"),
]

DEFINITION = Definition(
    name=PROCESS,
    version=1,
    title="Carte bancaire de la coopérative",
    initial=WAITING,
    start_trigger="start",
    states=STATES,
    transitions=TRANSITIONS,
    timers=TIMERS,
    steps=STEPS,
    guards={
        "has_request": _has_request,
        "at_school": _at_school,
        "elsewhere": _elsewhere,
        "has_comment": _has_comment,
        "has_reason": _has_reason,
        "returned_on": _returned_on,
    },
    prerequisites=(
        kyc.IDENTITY_VERIFIED,
        iban.ACCOUNT_CERTIFIED,
        AFFILIATED,
    ),
    checklist_position=7,
    checklist_title="Carte bancaire",
    portal_path="/mon-espace/carte",
)
