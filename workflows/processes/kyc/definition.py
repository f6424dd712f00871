"""Process ``kyc``: the mandataire's identity verified by Swan (PROCESSES.md §2).

Once the account is active, the step ``request_identification`` makes sure Swan has an
account membership for the mandataire and emails them what to prepare (CNI or
passport, a smartphone) and where to go; they photograph their document and face on
Swan's page. Swan reports by webhook (re-queried by ``sync_identification``; polling
timers catch up a webhook that never came): started, submitted, then valid, invalid
(with its reasons) or expired. A membership whose verified person does not match what
it expects (``BindingUserError``) is a case for staff, who can also record the outcome
by hand (the manual path: some statuses reach OCCE only through AssoConnect).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from workflows.engine.cross_process import Prerequisite
from workflows.engine.definition import (
    MANDATAIRE,
    STAFF,
    SYSTEM,
    Definition,
    State,
    StepRule,
    StuckRule,
    TimerRule,
)
from workflows.engine.definition import Transition as T
from workflows.processes.invitation import definition as invitation

PROCESS = "kyc"

#: Its states by name: other code compares a case's state with these, never with strings.
WAITING = "waiting"
LINK_SENT = "link_sent"
IN_PROGRESS = "in_progress"
PENDING_REVIEW = "pending_review"
VERIFIED = "verified"
INVALID = "invalid"
EXPIRED = "expired"

#: What the processes that need the mandataire's identity ask for (transfer, advance, card).
IDENTITY_VERIFIED = Prerequisite(
    PROCESS, (VERIFIED,), "Disponible quand votre identité sera vérifiée."
)

#: The recommended actions of its stuck reasons that are staff forms
#: (``admin/processes/kyc.py``): record the call, check the identity by hand.
CALL_MANDATAIRE = "call_mandataire"
VERIFY_IDENTITY = "verify_identity"
#: « Relancer le mandataire »: the instructions sent again, the timers started again.
RELAUNCH = "relaunch"

#: How far along each state is: a re-queried status only ever moves a case forward.
PROGRESS = {LINK_SENT: 0, IN_PROGRESS: 1, PENDING_REVIEW: 2, VERIFIED: 3, INVALID: 3, EXPIRED: 3}


def _refused_again(payload: dict[str, Any]) -> bool:
    return int(payload.get("refusals") or 0) >= 2


def _binding_error(payload: dict[str, Any]) -> bool:
    return bool(payload.get("mismatch"))


STATES = [
    State(WAITING, "En attente de l'activation du compte"),
    State(
        LINK_SENT,
        "Instructions envoyées, vérification non commencée",
        steps=("request_identification",),
        mandataire_action="Vérifier mon identité",
        portal_label="À faire : vérifiez votre identité avec votre smartphone",
    ),
    State(
        IN_PROGRESS,
        "Vérification commencée chez Swan",
        mandataire_action="Terminer la vérification",
        portal_label="Commencée : terminez-la sur votre smartphone",
    ),
    State(
        PENDING_REVIEW,
        "Pièces envoyées, examen en cours chez Swan",
        portal_label="Pièces envoyées : Swan les examine",
        stuck=StuckRule(
            "kyc_binding_mismatch",
            "L'identité vérifiée par Swan ne correspond pas à la fiche du mandataire : {mismatch}.",
            VERIFY_IDENTITY,
            "Vérifier l'identité",
            "Identité différente de la fiche",
        ),
        stuck_when=_binding_error,
    ),
    State(VERIFIED, "Identité vérifiée", final=True, steps=("notify_verified",)),
    State(
        INVALID,
        "Refusée par Swan : à refaire",
        steps=("notify_refused",),
        mandataire_action="Recommencer la vérification",
        portal_label="Refusée : recommencez la vérification",
        stuck=StuckRule(
            "kyc_refused_twice",
            "La vérification d'identité a été refusée {refusals} fois (dernier motif : {reason}).",
            CALL_MANDATAIRE,
            "Appeler le mandataire",
            "Identité refusée deux fois",
        ),
        stuck_when=_refused_again,
    ),
    State(
        EXPIRED,
        "Vérification commencée mais non terminée à temps",
        mandataire_action="Recommencer la vérification",
        portal_label="Expirée : recommencez la vérification",
    ),
]

_STAFF_OR_SYSTEM = frozenset({STAFF, SYSTEM})
_OPEN = (LINK_SENT, IN_PROGRESS, PENDING_REVIEW)

TRANSITIONS = [
    T("start", WAITING, LINK_SENT, "Envoi des instructions de vérification"),
    # What Swan reports, re-queried by ``sync_identification`` (never backwards).
    T("started", LINK_SENT, IN_PROGRESS, "Vérification commencée chez Swan"),
    T("submitted", (LINK_SENT, IN_PROGRESS), PENDING_REVIEW, "Pièces envoyées à Swan"),
    T(
        "binding_mismatch",
        _OPEN,
        PENDING_REVIEW,
        "Identité différente de la fiche du mandataire",
    ),
    # Also the manual path: staff record what AssoConnect or Swan's dashboard says.
    T(
        "validate",
        _OPEN,
        VERIFIED,
        "Identité vérifiée",
        by=_STAFF_OR_SYSTEM,
        bulk=False,
    ),
    T(
        "refuse",
        _OPEN,
        INVALID,
        "Vérification refusée",
        by=_STAFF_OR_SYSTEM,
        bulk=False,
    ),
    T("expire", (LINK_SENT, IN_PROGRESS), EXPIRED, "Vérification expirée"),
    T(
        "retry",
        (INVALID, EXPIRED),
        LINK_SENT,
        "Recommencer la vérification",
        by=frozenset({MANDATAIRE, STAFF}),
    ),
    T(
        RELAUNCH,
        (LINK_SENT, IN_PROGRESS),
        LINK_SENT,
        "Relancer le mandataire",
        by=_STAFF_OR_SYSTEM,
    ),
    # « Appeler le mandataire »: the call noted (a comment), the case unstuck; it stays
    # refused until the mandataire tries again.
    T(
        CALL_MANDATAIRE,
        INVALID,
        INVALID,
        "Appel au mandataire noté",
        by=frozenset({STAFF}),
        bulk=False,
    ),
    T(
        "remind",
        (LINK_SENT, IN_PROGRESS, INVALID, EXPIRED),
        None,
        "Rappel",
        steps=("send_reminder",),
    ),
    # A webhook or a polling timer: ask Swan where the identification is.
    T("sync", _OPEN, None, "Statut demandé à Swan", steps=("sync_identification",)),
]

_STALLED = StuckRule(
    "kyc_stalled",
    "Le mandataire n'a pas terminé la vérification de son identité depuis 14 jours.",
    RELAUNCH,
    "Relancer le mandataire",
    "Vérification non terminée",
)

TIMERS = [
    TimerRule(
        "reminder", LINK_SENT, timedelta(days=3), trigger="remind", label="Rappel au mandataire"
    ),
    TimerRule(
        "stalled",
        LINK_SENT,
        timedelta(days=14),
        stuck=_STALLED,
        label="Sans nouvelles depuis 14 jours",
    ),
    TimerRule(
        "stalled",
        IN_PROGRESS,
        timedelta(days=14),
        stuck=_STALLED,
        label="Sans nouvelles depuis 14 jours",
    ),
    TimerRule(
        "reminder", INVALID, timedelta(days=3), trigger="remind", label="Rappel au mandataire"
    ),
    TimerRule(
        "reminder", EXPIRED, timedelta(days=3), trigger="remind", label="Rappel au mandataire"
    ),
    # Polling: a status whose webhook never came is asked for.
    *(
        TimerRule(f"poll_{n}", state, after, trigger="sync", label="Statut demandé à Swan")
        for state in _OPEN
        for n, after in enumerate(
            (timedelta(minutes=15), timedelta(hours=2), timedelta(days=1), timedelta(days=4)),
            start=1,
        )
    ),
]

STEPS = [
    StepRule(
        "request_identification", "Demande de vérification chez Swan et instructions au mandataire"
    ),
    StepRule("send_reminder", "Rappel au mandataire"),
    # A read of Swan, harmless to repeat: it rides out a longer bad patch of Swan's
    # before staff are asked to retry it (five attempts at one call in five failing
    # leave one sync in 3,000 failed; ten, one in ten million).
    StepRule("sync_identification", "Statut de la vérification demandé à Swan", max_attempts=10),
    StepRule("notify_verified", "Email au mandataire : identité vérifiée"),
    StepRule("notify_refused", "Email au mandataire : vérification refusée"),
]

DEFINITION = Definition(
    name=PROCESS,
    version=1,
    title="Vérification d'identité",
    initial=WAITING,
    start_trigger="start",
    states=STATES,
    transitions=TRANSITIONS,
    timers=TIMERS,
    steps=STEPS,
    prerequisites=(
        Prerequisite(
            invitation.PROCESS,
            (invitation.ACTIVE,),
            "Disponible dès votre première connexion.",
        ),
    ),
    checklist_position=3,
    portal_path="/mon-espace/identite",
)
