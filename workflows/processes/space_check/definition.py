"""Process ``space_check``: the mandataire checks their space (seed 000, step 3).

Once the account is active, the mandataire looks at the group information, the
administrators and the bank account as the platform has them, and answers « Tout est
correct » (a summary PDF is kept in their documents) or « Signaler un problème » with a
message, which becomes a task for the AD's staff. When staff have fixed it, the
mandataire is asked to check again.
"""

from __future__ import annotations

from datetime import timedelta

from workflows.engine.cross_process import Prerequisite
from workflows.engine.definition import (
    MANDATAIRE,
    STAFF,
    Definition,
    State,
    StepRule,
    TaskRule,
    TimerRule,
    text_required,
)
from workflows.engine.definition import Transition as T
from workflows.processes.invitation import definition as invitation

PROCESS = "space_check"

#: Its states by name: other code compares a case's state with these, never with strings.
TO_CHECK = "to_check"
PROBLEM_REPORTED = "problem_reported"
CONFIRMED = "confirmed"
CANCELLED = "cancelled"

#: Longest message a mandataire may send with « Signaler un problème ».
MESSAGE_MAX = 2000

STATES = [
    State(
        TO_CHECK,
        "À vérifier par le mandataire",
        steps=("notify_mandataire",),
        mandataire_action="Vérifier mon espace",
        portal_label="À vérifier par vous",
    ),
    State(
        PROBLEM_REPORTED,
        "Problème signalé, en attente de l'équipe de l'AD",
        portal_label="Problème signalé, en cours de traitement",
        task=TaskRule(
            "space_problem",
            "Traiter le problème signalé sur l'espace",
            timedelta(days=3),
            note_from="message",
        ),
    ),
    State(CONFIRMED, "Espace vérifié", steps=("render_space_summary",), final=True),
    State(CANCELLED, "Annulée", final=True, failed=True),
]


_has_message = text_required(
    "message",
    empty="Décrivez le problème constaté : votre message est vide.",
    maximum=MESSAGE_MAX,
    too_long="Votre message est trop long ({maximum} caractères au plus).",
)


TRANSITIONS = [
    T("confirm", TO_CHECK, CONFIRMED, "Tout est correct", by=frozenset({MANDATAIRE})),
    T(
        "report_problem",
        TO_CHECK,
        PROBLEM_REPORTED,
        "Signaler un problème",
        by=frozenset({MANDATAIRE}),
        guards=("has_message",),
    ),
    T(
        "ask_again",
        PROBLEM_REPORTED,
        TO_CHECK,
        "Redemander la vérification (problème corrigé)",
        by=frozenset({STAFF}),
    ),
    T("remind", TO_CHECK, None, "Rappel", steps=("notify_mandataire",)),
    T("cancel", "*", CANCELLED, "Annuler", by=frozenset({STAFF})),
]

TIMERS = [
    # A weekly nudge while it waits; the notification itself sends at most one email a
    # day per coop, whatever the processes.
    TimerRule("reminder_1", TO_CHECK, timedelta(days=7), trigger="remind", label="Premier rappel"),
    TimerRule("reminder_2", TO_CHECK, timedelta(days=14), trigger="remind", label="Second rappel"),
]

STEPS = [
    StepRule("notify_mandataire", "Email au mandataire : une vérification l'attend"),
    StepRule("render_space_summary", "Récapitulatif de l'espace (PDF)"),
]

DEFINITION = Definition(
    name=PROCESS,
    version=1,
    title="Vérification de l'espace",
    initial=TO_CHECK,
    states=STATES,
    transitions=TRANSITIONS,
    timers=TIMERS,
    steps=STEPS,
    guards={"has_message": _has_message},
    prerequisites=(
        Prerequisite(
            invitation.PROCESS, (invitation.ACTIVE,), "Disponible dès votre première connexion."
        ),
    ),
    checklist_position=2,
    portal_path="/mon-espace/verification",
)
