"""The AD staff's side of an affiliation: the three items checked one by one (payment
received, signed commitment received, change form handled), the affiliation sent back
for correction, a late coop granted a new deadline.

Each function runs inside the caller's engine transaction (``tx``): it locks the case,
checks everything first and raises a French error before writing anything, then writes
``case.data`` (a new dict) and fires the definition's trigger, so the audit event names
who did what. The last missing item fires ``validate`` in the same transaction: an
affiliation is validated exactly when its last item is checked, never twice. The
back-office forms and the bank statement matching (:mod:`.statement`) both go through
here; the caller checks the staff member's scope (their AD) before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from workflows.engine.actor import Actor
from workflows.engine.cross_process import PARIS, school_year_label
from workflows.engine.errors import TransitionNotAllowed, ValidationError
from workflows.engine.unit_of_work import UnitOfWork
from workflows.formatting import datetime_fr, euros
from workflows.models import Case
from workflows.processes.affiliation.definition import (
    AWAITING_VALIDATION,
    COMMENT_MAX,
    DEFINITION,
    DRAFT,
    EXTEND,
    OVERDUE,
    PROCESS,
    SUBMITTED,
    missing_checks,
    required_checks,
)
from workflows.processes.affiliation.form import CHANGE_FORM, CHECK_LABELS, COMMITMENT, PAYMENT

#: The trigger each item fires (audited with the item's details as payload).
TRIGGERS = {
    PAYMENT: "check_payment",
    COMMITMENT: "check_commitment",
    CHANGE_FORM: "check_change_form",
}
#: Where a payment's check came from.
MANUAL, STATEMENT = "manual", "statement"
REFERENCE_MAX = 100
#: The largest payment typed by hand (100 000 €: beyond, a typing error).
MAX_PAYMENT_CENTS = 10_000_000
NOTE_MAX = 2000
#: The states a deadline may be granted in (``extend``'s sources).
EXTENDABLE = (OVERDUE, DRAFT)


class NotAwaiting(TransitionNotAllowed):
    """The affiliation is not waiting for its items to be checked."""


class AlreadyChecked(TransitionNotAllowed):
    """This item was checked already (by someone, at some time: in ``check``)."""

    def __init__(self, message: str, check: dict[str, Any]) -> None:
        super().__init__(message)
        self.check = check


class NotRequired(TransitionNotAllowed):
    """The item does not apply to this affiliation (no change was declared)."""


class AmountMismatch(ValidationError):
    """The payment received is not the frozen fee (both amounts in the message)."""

    def __init__(self, received_cents: int, expected_cents: int) -> None:
        super().__init__(
            f"Le montant reçu ({euros(received_cents)}) ne correspond pas au montant de "
            f"l'adhésion ({euros(expected_cents)})."
        )
        self.received_cents = received_cents
        self.expected_cents = expected_cents


@dataclass(frozen=True)
class Recorded:
    """What a check did: the case after it, and whether it validated the affiliation."""

    case: Case
    validated: bool


def state_label(case: Case) -> str:
    return DEFINITION.label(case.state)


def checked_by(check: dict[str, Any]) -> str:
    """« par Claire Agent le 12/09/2026 à 10:05 »."""
    at = check.get("at")
    when = f" le {datetime_fr(datetime.fromisoformat(at))}" if at else ""
    who = check.get("by") or "un membre de l'équipe"
    return f"par {who}{when}"


def expected_cents(case: Case) -> int:
    """The frozen fee of the affiliation (``data.fee.total_cents``)."""
    fee = (case.data or {}).get("fee") or {}
    if "total_cents" not in fee:
        raise NotAwaiting("Le montant de cette adhésion n'est pas encore arrêté.")
    return int(fee["total_cents"])


def _affiliation(tx: UnitOfWork, case_id: int) -> Case:
    case = tx.lock(case_id)
    if case.process != PROCESS:
        raise NotAwaiting(f"Le dossier n° {case_id} n'est pas une adhésion.")
    return case


def _payment_details(case: Case, details: dict[str, Any], today: date) -> dict[str, Any]:
    """The payment's details, checked (amount equal to the fee, a date not in the
    future, a reference), or :class:`ValidationError`."""
    amount = details.get("amount_cents")
    received_on = details.get("received_on")
    reference = " ".join(str(details.get("reference") or "").split())
    errors = []
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        errors.append("Indiquez le montant reçu, par exemple 136,99.")
    if not isinstance(received_on, date):
        errors.append("Indiquez la date de réception du paiement (jj/mm/aaaa).")
    elif received_on > today:
        errors.append("La date de réception du paiement ne peut pas être dans le futur.")
    elif case.school_year is not None and received_on.year < case.school_year:
        errors.append(
            f"La date de réception est antérieure à l'année scolaire "
            f"{school_year_label(case.school_year)} : vérifiez-la."
        )
    if not reference:
        errors.append("Indiquez la référence du paiement (virement, chèque...).")
    elif len(reference) > REFERENCE_MAX:
        errors.append(f"Référence trop longue ({REFERENCE_MAX} caractères au plus).")
    if errors:
        raise ValidationError(errors)
    assert isinstance(amount, int) and isinstance(received_on, date)
    fee = expected_cents(case)
    if amount != fee:
        raise AmountMismatch(amount, fee)
    source = details.get("source") or MANUAL
    clean: dict[str, Any] = {
        "amount_cents": amount,
        "received_on": received_on.isoformat(),
        "reference": reference,
        "source": source,
    }
    if source == STATEMENT:
        clean["statement_line_id"] = int(details["statement_line_id"])
    return clean


def _note(details: dict[str, Any]) -> dict[str, Any]:
    note = str(details.get("note") or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(f"Note trop longue ({NOTE_MAX} caractères au plus).")
    return {"note": note} if note else {}


def _summary(item: str, clean: dict[str, Any]) -> str:
    """What the history says of the check, before the staff's comment."""
    if item == PAYMENT:
        received = date.fromisoformat(clean["received_on"]).strftime("%d/%m/%Y")
        origin = " (relevé bancaire)" if clean["source"] == STATEMENT else ""
        return (
            f"{CHECK_LABELS[item]} : {euros(clean['amount_cents'])} le {received}, "
            f"référence {clean['reference']}{origin}."
        )
    note = f" Note : {clean['note']}" if clean.get("note") else ""
    return f"{CHECK_LABELS[item]}.{note}"


def record_check(
    tx: UnitOfWork,
    case_id: int,
    item: str,
    actor: Actor,
    details: dict[str, Any],
    comment: str | None = None,
) -> Recorded:
    """Check one item of an ``awaiting_validation`` affiliation as ``actor`` (a staff
    member), audited; the last item missing validates the affiliation.

    ``details``: for the payment ``amount_cents`` (int), ``received_on`` (a date),
    ``reference``, ``source`` (``manual`` or ``statement`` with ``statement_line_id``);
    for the other two an optional ``note``. Raises :class:`NotAwaiting`,
    :class:`NotRequired`, :class:`AlreadyChecked`, :class:`AmountMismatch` or
    :class:`ValidationError` (French) before anything is written."""
    if item not in TRIGGERS:
        raise ValidationError("Pièce inconnue.")
    case = _affiliation(tx, case_id)
    if case.state != AWAITING_VALIDATION:
        raise NotAwaiting(
            f"Cette adhésion n'attend pas la validation de ses pièces : elle est "
            f"« {state_label(case)} »."
        )
    data = case.data or {}
    if item not in required_checks(data):
        raise NotRequired(
            "Aucun changement de mandataire ni de signataires n'a été déclaré : il n'y a "
            "pas de formulaire de changement à traiter."
        )
    checks = dict(data.get("checks") or {})
    if item in checks:
        raise AlreadyChecked(
            f"« {CHECK_LABELS[item]} » est déjà validé {checked_by(checks[item])}.",
            checks[item],
        )
    today = tx.now.astimezone(PARIS).date()
    clean = _payment_details(case, details, today) if item == PAYMENT else _note(details)
    staff_comment = " ".join(str(comment or "").split())
    if len(staff_comment) > COMMENT_MAX:
        raise ValidationError(f"Commentaire trop long ({COMMENT_MAX} caractères au plus).")
    checks[item] = {"by": actor.name, "by_id": actor.id, "at": tx.now.isoformat(), **clean}
    case.data = {**data, "checks": checks}
    summary = _summary(item, clean)
    tx.fire(
        case_id,
        TRIGGERS[item],
        actor=actor,
        payload=clean,
        comment=f"{summary} {staff_comment}" if staff_comment else summary,
    )
    validated = not missing_checks(case.data)
    if validated:
        tx.fire(
            case_id,
            "validate",
            actor=actor,
            comment="Toutes les pièces sont validées.",
        )
    return Recorded(case, validated)


def send_back(tx: UnitOfWork, case_id: int, actor: Actor, comment: str) -> Case:
    """Send the affiliation back to the mandataire with what to correct (they read it).

    The items checked so far are dropped from ``data.checks`` (the history keeps them):
    the corrected affiliation has a new fee and a new commitment to check."""
    case = _affiliation(tx, case_id)
    if case.state not in (SUBMITTED, AWAITING_VALIDATION):
        raise NotAwaiting(
            f"Cette adhésion ne peut plus être renvoyée : elle est « {state_label(case)} »."
        )
    text = str(comment or "").strip()
    if not text:
        raise ValidationError(
            "Dites au mandataire ce qu'il doit corriger : le commentaire est vide."
        )
    if len(text) > COMMENT_MAX:
        raise ValidationError(f"Commentaire trop long ({COMMENT_MAX} caractères au plus).")
    case.data = {**(case.data or {}), "returned_comment": text, "checks": {}}
    tx.fire(case_id, "send_back", actor=actor, payload={"comment": text}, comment=text)
    return case


def extend(
    tx: UnitOfWork, case_id: int, actor: Actor, deadline: date, comment: str | None = None
) -> Case:
    """Grant the coop until ``deadline`` (a day in Paris, after today) and remind the
    mandataire; the definition's timers are computed again from ``data.deadline``."""
    case = _affiliation(tx, case_id)
    if case.state not in EXTENDABLE:
        raise NotAwaiting(
            f"Un délai ne s'accorde qu'à une adhésion à compléter ou en retard ; celle-ci "
            f"est « {state_label(case)} »."
        )
    today = tx.now.astimezone(PARIS).date()
    if deadline <= today:
        raise ValidationError("La nouvelle date limite doit être après aujourd'hui.")
    if case.school_year is not None and deadline > date(case.school_year + 1, 8, 31):
        raise ValidationError(
            f"La nouvelle date limite doit rester dans l'année scolaire "
            f"{school_year_label(case.school_year)} (au plus tard le 31/08/"
            f"{case.school_year + 1})."
        )
    text = " ".join(str(comment or "").split())
    if len(text) > COMMENT_MAX:
        raise ValidationError(f"Commentaire trop long ({COMMENT_MAX} caractères au plus).")
    case.data = {**(case.data or {}), "deadline": deadline.isoformat()}
    said = f"Délai accordé jusqu'au {deadline.strftime('%d/%m/%Y')}."
    tx.fire(
        case_id,
        EXTEND,
        actor=actor,
        payload={"deadline": deadline.isoformat()},
        comment=f"{said} {text}" if text else said,
    )
    return case
