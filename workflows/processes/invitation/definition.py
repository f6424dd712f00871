"""Process 1, ``invitation``: account invitation and password setup (PROCESSES.md §1).

The coop is imported, the mandataire receives a single-use link valid for the AD's
delay (7 days by default), is reminded at +3 and +6 days, chooses a password, and
their first login makes the account active.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

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
from workflows.models import AD

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workflows.models import Case

PROCESS = "invitation"
#: The recommended action for a refused address: a form to fix the email, then resend
#: (a staff action of ``admin/processes/invitation.py``).
FIX_EMAIL = "fix_email"

#: Its states by name: other code compares a case's state with these, never with strings.
CREATED = "created"
SENDING = "sending"
INVITED = "invited"
EXPIRED = "expired"
BOUNCED = "bounced"
PASSWORD_SET = "password_set"
ACTIVE = "active"
CANCELLED = "cancelled"

STATES = [
    State(CREATED, "Importée, invitation non envoyée"),
    State(SENDING, "Envoi de l'invitation en cours", steps=("send_invitation",)),
    State(INVITED, "Invitation envoyée, en attente du mot de passe"),
    State(
        EXPIRED,
        "Lien expiré",
        stuck=StuckRule(
            "invitation_expired",
            "Le mandataire n'a pas utilisé son lien d'invitation à temps.",
            "resend",
            "Renvoyer l'invitation",
            "Invitation expirée",
        ),
    ),
    State(
        BOUNCED,
        "Adresse refusée par le serveur de messagerie",
        stuck=StuckRule(
            "invitation_bounced",
            "Le serveur de messagerie a refusé l'adresse {email} : {error}",
            FIX_EMAIL,
            "Corriger l'email puis renvoyer",
            "Adresse email refusée",
        ),
    ),
    State(PASSWORD_SET, "Mot de passe configuré, première connexion attendue"),
    State(ACTIVE, "Compte actif", final=True),
    # Cancelled by staff: the mandataire's account stops there (sessions, links).
    State(CANCELLED, "Annulée", final=True, failed=True, steps=("end_access",)),
]

TRANSITIONS = [
    T("invite", CREATED, SENDING, "Envoyer l'invitation", by=frozenset({STAFF, SYSTEM})),
    T("sent", SENDING, INVITED, "Invitation envoyée"),
    T("bounce", SENDING, BOUNCED, "Adresse refusée"),
    # A bounce can come after the mail server first accepted the message: reported by
    # the mail relay (``workflows/delivery_reports.py``), or by staff reading the bounce.
    T(
        "bounce",
        INVITED,
        BOUNCED,
        "Signaler l'adresse comme refusée",
        by=frozenset({STAFF, SYSTEM}),
        bulk=False,
    ),
    T(
        "set_password",
        INVITED,
        PASSWORD_SET,
        "Configurer le mot de passe",
        by=frozenset({MANDATAIRE}),
    ),
    T("first_login", PASSWORD_SET, ACTIVE, "Première connexion", by=frozenset({MANDATAIRE})),
    T("remind", INVITED, None, "Rappel", steps=("send_reminder",)),
    # « Mot de passe perdu ? »: audited here, the email goes through the outbox. Not a
    # staff action: the mandataire (or the public form, as the system) asks for it.
    T(
        "request_reset",
        (PASSWORD_SET, ACTIVE),
        None,
        "Mot de passe perdu",
        by=frozenset({MANDATAIRE, SYSTEM}),
        steps=("send_password_reset",),
        bulk=False,
    ),
    T("expire", INVITED, EXPIRED, "Lien expiré"),
    T(
        "resend",
        (INVITED, EXPIRED, BOUNCED),
        SENDING,
        "Renvoyer l'invitation",
        by=frozenset({STAFF, SYSTEM}),
    ),
    T("cancel", "*", CANCELLED, "Annuler", by=frozenset({STAFF})),
]


def _validity(case: Case, session: Session) -> timedelta:
    # Each AD read once per transaction, however many invitations a batch of steps
    # completes: kept here, as the session's identity map lets go of an object nothing
    # else holds (it was read again for every case).
    days: dict[int, int] = session.info.setdefault("invitation_validity_days", {})
    if case.ad_id not in days:
        ad = session.get(AD, case.ad_id)
        assert ad is not None, f"AD {case.ad_id} introuvable"
        days[case.ad_id] = ad.invitation_validity_days
    return timedelta(days=days[case.ad_id])


TIMERS = [
    TimerRule("reminder_1", INVITED, timedelta(days=3), trigger="remind", label="Premier rappel"),
    TimerRule("reminder_2", INVITED, timedelta(days=6), trigger="remind", label="Second rappel"),
    TimerRule(
        "expiry", INVITED, "validity", trigger="expire", label="Expiration du lien d'invitation"
    ),
]

STEPS = [
    StepRule("send_invitation", "Envoi de l'invitation", on_done="sent"),
    StepRule("send_reminder", "Envoi du rappel"),
    StepRule("send_password_reset", "Envoi du lien de réinitialisation"),
    StepRule("end_access", "Fin de l'accès du mandataire"),
]

DEFINITION = Definition(
    name=PROCESS,
    version=1,
    title="Invitation et mot de passe",
    initial=CREATED,
    states=STATES,
    transitions=TRANSITIONS,
    timers=TIMERS,
    steps=STEPS,
    checklist_position=1,
    checklist_title="Mot de passe configuré",
    portal_path="/mon-espace",
    durations={"validity": _validity},
    duration_labels={"validity": "la validité du lien (7 j par défaut, réglable par AD)"},
)
