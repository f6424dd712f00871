"""Process ``iban``: certifying the coop's bank account (PROCESSES.md §3).

Once the account is active the mandataire uploads a RIB less than 12 months old (seed
003) and types its IBAN, BIC, holder and date. The step ``check_rib`` runs the checks
of :mod:`workflows.processes.iban.rib_checks` (schwifty, with the French RIB key): a
refusal lists its reasons next to their fields, a doubt (holder not recognised, bank
unknown to the registry, IBAN not French) goes to the AD's staff, a good RIB is told to
Swan by ``certify_account``. The mandataire then sees the account as the platform has
it and says « Le compte affiché n'est pas le nôtre » if it is not (seed 000, third
check): a mismatch that stays stuck until staff resolve it.
"""

from __future__ import annotations

from datetime import timedelta

from workflows.engine.cross_process import Prerequisite
from workflows.engine.definition import (
    MANDATAIRE,
    STAFF,
    SYSTEM,
    Definition,
    State,
    StepRule,
    StuckRule,
    TaskRule,
    TimerRule,
    text_required,
)
from workflows.engine.definition import Transition as T
from workflows.processes.invitation import definition as invitation

PROCESS = "iban"

#: Its states by name: other code compares a case's state with these, never with strings.
AWAITING_RIB = "awaiting_rib"
CHECKING = "checking"
NEEDS_REVIEW = "needs_review"
REJECTED = "rejected"
VERIFIED = "verified"
CERTIFIED = "certified"
MISMATCH_REPORTED = "mismatch_reported"

#: What the processes that need the coop's account ask for (transfer, advance, card).
ACCOUNT_CERTIFIED = Prerequisite(
    PROCESS,
    (CERTIFIED,),
    "Disponible quand le compte bancaire de la coopérative sera certifié.",
)

#: The staff forms of ``admin/processes/iban.py`` its stuck reasons recommend.
REVIEW_RIB = "review_rib"
#: « Relancer le mandataire »: a reminder sent, the timers started again.
RELAUNCH = "relaunch"
RESOLVE_MISMATCH = "resolve_mismatch"

#: Longest message with « Le compte affiché n'est pas le nôtre ».
MESSAGE_MAX = 2000

STATES = [
    State(
        AWAITING_RIB,
        "En attente du RIB",
        mandataire_action="Déposer le RIB",
        portal_label="À faire : déposez un RIB de moins de 12 mois",
    ),
    State(CHECKING, "RIB en cours de vérification", steps=("check_rib",)),
    State(
        NEEDS_REVIEW,
        "RIB à vérifier par l'équipe de l'AD",
        portal_label="RIB reçu : l'équipe de votre AD le vérifie",
        task=TaskRule(
            "rib_review", "Vérifier le RIB déposé", timedelta(days=2), note_from="review"
        ),
    ),
    State(
        REJECTED,
        "RIB refusé : un nouveau RIB est attendu",
        steps=("notify_rejected",),
        mandataire_action="Déposer un nouveau RIB",
        portal_label="RIB refusé : déposez-en un nouveau",
    ),
    State(VERIFIED, "RIB vérifié, certification en cours", steps=("certify_account",)),
    State(CERTIFIED, "Compte bancaire certifié", final=True, steps=("notify_certified",)),
    State(
        MISMATCH_REPORTED,
        "Compte affiché signalé comme erroné",
        portal_label="Signalé : l'équipe de votre AD vérifie le compte",
        stuck=StuckRule(
            "iban_mismatch",
            "Le mandataire signale que le compte affiché n'est pas celui de la "
            "coopérative : {message}",
            RESOLVE_MISMATCH,
            "Traiter le signalement",
            "Compte bancaire signalé",
        ),
    ),
]

_STAFF_OR_SYSTEM = frozenset({STAFF, SYSTEM})


_has_message = text_required(
    "message",
    empty="Dites-nous ce qui ne va pas : votre message est vide.",
    maximum=MESSAGE_MAX,
    too_long="Votre message est trop long ({maximum} caractères au plus).",
)


TRANSITIONS = [
    # The portal stores the RIB (``bank_accounts``) and fires this with its id.
    T(
        "submit_rib",
        (AWAITING_RIB, REJECTED),
        CHECKING,
        "RIB déposé",
        by=frozenset({MANDATAIRE}),
        bulk=False,
    ),
    # The outcomes of ``check_rib``, and of the staff review.
    T("reject", CHECKING, REJECTED, "RIB refusé par les contrôles"),
    T("to_review", CHECKING, NEEDS_REVIEW, "RIB à vérifier par une personne"),
    T("accept", CHECKING, VERIFIED, "RIB vérifié"),
    T("approve", NEEDS_REVIEW, VERIFIED, "RIB approuvé", by=frozenset({STAFF}), bulk=False),
    T(
        "refuse",
        NEEDS_REVIEW,
        REJECTED,
        "RIB refusé par l'équipe de l'AD",
        by=frozenset({STAFF}),
        bulk=False,
    ),
    T("certified", VERIFIED, CERTIFIED, "Compte certifié auprès de Swan"),
    T(
        "report_mismatch",
        CERTIFIED,
        MISMATCH_REPORTED,
        "Le compte affiché n'est pas le nôtre",
        by=frozenset({MANDATAIRE}),
        guards=("has_message",),
        bulk=False,
    ),
    # Resolving the report: the account was right after all, or a new RIB is needed.
    T(
        "confirm_account",
        MISMATCH_REPORTED,
        CERTIFIED,
        "Compte confirmé par l'équipe de l'AD",
        by=frozenset({STAFF}),
        bulk=False,
    ),
    T(
        "ask_new_rib",
        (MISMATCH_REPORTED, NEEDS_REVIEW),
        AWAITING_RIB,
        "Nouveau RIB demandé au mandataire",
        by=frozenset({STAFF}),
        bulk=False,
        # The mandataire is told (« Une démarche vous attend »), else they would wait.
        steps=("notify_mandataire",),
    ),
    T(
        RELAUNCH,
        AWAITING_RIB,
        AWAITING_RIB,
        "Relancer le mandataire",
        by=_STAFF_OR_SYSTEM,
        steps=("send_reminder",),
    ),
    T(
        "remind",
        (AWAITING_RIB, REJECTED),
        None,
        "Rappel",
        by=_STAFF_OR_SYSTEM,
        steps=("send_reminder",),
    ),
]

TIMERS = [
    TimerRule(
        "reminder_1", AWAITING_RIB, timedelta(days=7), trigger="remind", label="Premier rappel"
    ),
    TimerRule(
        "reminder_2", AWAITING_RIB, timedelta(days=14), trigger="remind", label="Second rappel"
    ),
    TimerRule("reminder_1", REJECTED, timedelta(days=3), trigger="remind", label="Premier rappel"),
    TimerRule(
        "no_rib",
        AWAITING_RIB,
        timedelta(days=30),
        stuck=StuckRule(
            "iban_no_rib",
            "Aucun RIB déposé depuis 30 jours.",
            RELAUNCH,
            "Relancer le mandataire",
            "RIB non déposé",
        ),
        label="Sans RIB depuis 30 jours",
    ),
]

STEPS = [
    StepRule("check_rib", "Contrôles du RIB (IBAN, clé RIB, BIC, date, titulaire)"),
    StepRule("certify_account", "Certification du compte auprès de Swan", on_done="certified"),
    StepRule("send_reminder", "Rappel au mandataire"),
    StepRule("notify_rejected", "Email au mandataire : RIB refusé"),
    StepRule("notify_certified", "Email au mandataire : compte certifié"),
    StepRule("notify_mandataire", "Email au mandataire : un nouveau RIB est attendu"),
]

DEFINITION = Definition(
    name=PROCESS,
    version=1,
    title="Compte bancaire certifié",
    initial=AWAITING_RIB,
    states=STATES,
    transitions=TRANSITIONS,
    timers=TIMERS,
    steps=STEPS,
    guards={"has_message": _has_message},
    prerequisites=(
        Prerequisite(
            invitation.PROCESS,
            (invitation.ACTIVE,),
            "Disponible dès votre première connexion.",
        ),
    ),
    checklist_position=4,
    portal_path="/mon-espace/compte-bancaire",
    # The review waits on the AD's staff: past its two days the stuck list offers the
    # review form itself, not the generic task page.
    # Its own reason (the stuck list reads a reason's label by its name).
    task_overdue=StuckRule(
        "iban_review_overdue",
        "Le RIB déposé attend d'être vérifié : échéance du {due} dépassée.",
        REVIEW_RIB,
        "Vérifier le RIB",
        "RIB à vérifier en retard",
    ),
)
