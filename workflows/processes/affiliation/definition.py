"""Process ``affiliation``: the coop's yearly membership of its AD (PROCESSES.md §7).

One case per coop and school year, opened for every active coop (its mandataire's
account is active) on 1 September by the scheduler's sweep, or when the account becomes
active during the year. The mandataire declares the classes (carried over from last
year's validated case), pupils, teachers, options and an optional change of mandataire
or signatories; the fee is computed from the AD's price list
(:mod:`workflows.processes.affiliation.fee`) and frozen at submission, when the
*engagement du mandataire* is rendered to sign. The AD's staff check three items
separately (payment received, signed commitment received, change form handled): the last
check validates the affiliation, whose attestations are then rendered. Past the AD's
deadline an unsubmitted case is ``overdue``: stuck, and the coop's banking services
(card, advance) wait for it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from workflows.engine.cross_process import Effect, Prerequisite
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
from workflows.processes.affiliation import calendar
from workflows.processes.affiliation.form import (
    CHANGE_FORM,
    CHECK_ITEMS,
    form_of,
    missing_for_submission,
)
from workflows.processes.invitation import definition as invitation

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workflows.models import Case

PROCESS = "affiliation"

#: Its states by name: other code compares a case's state with these, never with strings.
DRAFT = "draft"
SUBMITTED = "submitted"
AWAITING_VALIDATION = "awaiting_validation"
RETURNED = "returned"
VALIDATED = "validated"
OVERDUE = "overdue"
CLOSED = "closed"
#: Where the mandataire may still edit and submit the form.
EDITABLE = (DRAFT, RETURNED, OVERDUE)

#: The staff forms of ``admin/processes/affiliation.py`` the stuck reasons recommend.
VALIDATE_ITEMS = "validate_items"
EXTEND = "extend"

#: Longest staff comment when sending the affiliation back.
COMMENT_MAX = 2000

#: What the card order and the emergency advance need (their definitions name it).
AFFILIATED = Prerequisite(
    PROCESS,
    (VALIDATED,),
    "Disponible quand l'affiliation de cette année sera validée par votre AD.",
    this_year=True,
)

STATES = [
    State(
        DRAFT,
        "Adhésion à compléter par le mandataire",
        steps=("open_year",),
        mandataire_action="Compléter l'adhésion",
        portal_label="À faire : complétez l'adhésion de l'année",
    ),
    State(
        SUBMITTED,
        "Adhésion envoyée, engagement en préparation",
        steps=("render_commitment",),
        portal_label="Envoyée : votre engagement est en préparation",
    ),
    State(
        AWAITING_VALIDATION,
        "Pièces à valider par l'AD (paiement, engagement, changement)",
        portal_label="Envoyée : votre AD attend le paiement et l'engagement signé",
        task=TaskRule(
            "affiliation_validation",
            "Valider l'adhésion : paiement, engagement signé, changement",
            timedelta(days=21),
        ),
    ),
    State(
        RETURNED,
        "Renvoyée au mandataire pour correction",
        steps=("notify_returned",),
        mandataire_action="Corriger l'adhésion",
        portal_label="À corriger : votre AD vous a renvoyé l'adhésion",
    ),
    State(
        VALIDATED,
        "Adhésion validée",
        final=True,
        steps=("render_attestations", "notify_validated"),
        portal_label="Terminé : votre coopérative est adhérente",
    ),
    State(
        OVERDUE,
        "Adhésion non envoyée à la date limite",
        mandataire_action="Compléter l'adhésion",
        portal_label=(
            "En retard : votre coopérative pourrait être empêchée dans son fonctionnement"
        ),
        stuck=StuckRule(
            "affiliation_overdue",
            "L'adhésion de l'année n'a pas été envoyée à la date limite : la carte et "
            "l'avance d'urgence de la coopérative attendent.",
            EXTEND,
            "Relancer et accorder un délai",
            "Adhésion en retard",
        ),
    ),
    State(CLOSED, "Année scolaire close sans adhésion", final=True, failed=True),
]

_STAFF_OR_SYSTEM = frozenset({STAFF, SYSTEM})


def _form_complete(ctx: GuardContext) -> str | None:
    missing = missing_for_submission(form_of(ctx.case.data or {}))
    if missing:
        return missing[0]
    if "fee" not in (ctx.case.data or {}):
        return "Le montant de l'adhésion n'a pas pu être calculé."
    return None


def required_checks(data: dict[str, Any]) -> tuple[str, ...]:
    """The items staff must check: the change form only when a change was declared."""
    change = form_of(data).change
    return tuple(i for i in CHECK_ITEMS if i != CHANGE_FORM or change is not None)


def missing_checks(data: dict[str, Any]) -> list[str]:
    checks = (data or {}).get("checks") or {}
    return [i for i in required_checks(data) if i not in checks]


def _all_checked(ctx: GuardContext) -> str | None:
    if missing_checks(ctx.case.data or {}):
        return "Les pièces de l'adhésion ne sont pas toutes validées."
    return None


_has_comment = text_required(
    "comment",
    empty="Dites au mandataire ce qu'il doit corriger : le commentaire est vide.",
    maximum=COMMENT_MAX,
    too_long="Commentaire trop long ({maximum} caractères au plus).",
)


def _new_invitation(session: Session, case: Case) -> dict[str, Any] | None:
    """The invitation a validated change of mandataire starts (effect)."""
    from workflows.processes.affiliation.change import new_mandataire

    return new_mandataire(session, case)


def _changes_mandataire(case: Case) -> bool:
    """Whether the affiliation declares a change of mandataire (what the effect needs)."""
    change = form_of(case.data or {}).change
    return change is not None and change.mandataire


TRANSITIONS = [
    # The portal writes the form into the case, then fires this (audited).
    T(
        "save",
        EDITABLE,
        None,
        "Adhésion enregistrée",
        by=frozenset({MANDATAIRE}),
        bulk=False,
    ),
    # The portal freezes the fee into the case, then fires this.
    T(
        "submit",
        EDITABLE,
        SUBMITTED,
        "Adhésion envoyée",
        by=frozenset({MANDATAIRE}),
        guards=("form_complete",),
        bulk=False,
    ),
    T("to_validation", SUBMITTED, AWAITING_VALIDATION, "Engagement prêt, pièces attendues"),
    # The three items, each by a named staff member (the payment also from a statement).
    T(
        "check_payment",
        AWAITING_VALIDATION,
        None,
        "Paiement reçu",
        by=frozenset({STAFF}),
        bulk=False,
    ),
    T(
        "check_commitment",
        AWAITING_VALIDATION,
        None,
        "Engagement signé reçu",
        by=frozenset({STAFF}),
        bulk=False,
    ),
    T(
        "check_change_form",
        AWAITING_VALIDATION,
        None,
        "Changement de mandataire ou de signataires traité",
        by=frozenset({STAFF}),
        bulk=False,
    ),
    # Fired with the last check, in its transaction.
    T(
        "validate",
        AWAITING_VALIDATION,
        VALIDATED,
        "Adhésion validée",
        by=_STAFF_OR_SYSTEM,
        guards=("all_checked",),
        bulk=False,
    ),
    T(
        "send_back",
        (SUBMITTED, AWAITING_VALIDATION),
        RETURNED,
        "Renvoyée pour correction",
        by=frozenset({STAFF}),
        guards=("has_comment",),
        bulk=False,
    ),
    T("deadline_passed", DRAFT, OVERDUE, "Date limite dépassée"),
    # « Relancer et accorder un délai »: a new date, a reminder sent.
    T(
        EXTEND,
        (OVERDUE, DRAFT),
        DRAFT,
        "Délai accordé",
        by=frozenset({STAFF}),
        steps=("send_reminder",),
        bulk=False,
    ),
    T(
        "remind",
        EDITABLE,
        None,
        "Rappel",
        by=_STAFF_OR_SYSTEM,
        steps=("send_reminder",),
    ),
    # A new school year closes the last one's unfinished case (step ``open_year``).
    T("close_year", EDITABLE, CLOSED, "Année scolaire close", by=_STAFF_OR_SYSTEM),
]

TIMERS = [
    TimerRule(
        "reminder_15",
        DRAFT,
        "reminder_15",
        trigger="remind",
        label="Rappel 15 jours avant la date limite",
    ),
    TimerRule(
        "reminder_5",
        DRAFT,
        "reminder_5",
        trigger="remind",
        label="Rappel 5 jours avant la date limite",
    ),
    TimerRule(
        "deadline",
        DRAFT,
        "deadline",
        trigger="deadline_passed",
        label="Date limite de l'adhésion",
    ),
    TimerRule(
        "reminder_returned",
        RETURNED,
        timedelta(days=7),
        trigger="remind",
        label="Rappel d'une adhésion à corriger",
    ),
]

STEPS = [
    StepRule("open_year", "Ouverture de l'année : classes de l'an dernier reportées"),
    StepRule("render_commitment", "Engagement du mandataire (PDF)", on_done="to_validation"),
    StepRule("render_attestations", "Attestations d'adhésion et d'assurance (PDF)"),
    StepRule("notify_validated", "Email au mandataire : adhésion validée"),
    StepRule("notify_returned", "Email au mandataire : adhésion à corriger"),
    StepRule("send_reminder", "Rappel au mandataire"),
]

DEFINITION = Definition(
    name=PROCESS,
    version=1,
    title="Affiliation de l'année",
    initial=DRAFT,
    states=STATES,
    transitions=TRANSITIONS,
    timers=TIMERS,
    steps=STEPS,
    guards={
        "form_complete": _form_complete,
        "all_checked": _all_checked,
        "has_comment": _has_comment,
    },
    durations={
        "reminder_15": calendar.until_reminder(15),
        "reminder_5": calendar.until_reminder(5),
        "deadline": calendar.until_deadline,
    },
    duration_labels={
        "reminder_15": "15 jours avant la date limite de l'AD",
        "reminder_5": "5 jours avant la date limite de l'AD",
        "deadline": "la date limite de l'AD (30 septembre par défaut)",
    },
    prerequisites=(
        Prerequisite(
            invitation.PROCESS,
            (invitation.ACTIVE,),
            "Disponible dès votre première connexion.",
        ),
    ),
    effects=(
        Effect(
            VALIDATED,
            invitation.PROCESS,
            "invite",
            start=_new_invitation,
            wanted=_changes_mandataire,
        ),
    ),
    yearly=True,
    checklist_position=5,
    portal_path="/mon-espace/adhesion",
    task_overdue=StuckRule(
        "affiliation_validation_overdue",
        "Les pièces de l'adhésion attendent d'être validées : échéance du {due} dépassée.",
        VALIDATE_ITEMS,
        "Valider les pièces",
        "Adhésion à valider en retard",
    ),
)
