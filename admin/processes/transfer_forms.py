"""The forms of the Banque Postale transfer's and the emergency advance's staff pages
(:mod:`admin.processes.banque_postale_transfer`, :mod:`admin.processes.emergency_advance`,
:mod:`admin.processes.transfer_letters`), with their French messages: a day that has
passed (a letter posted, funds received, an advance paid or repaid: never in the future),
an amount read by :func:`workflows.money.parse_amount`, a reference, a comment."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, ValidationError

from admin.case_actions import StaffAction
from admin.forms import COMMENT_TOO_LONG, CaseActionForm, optional_comment
from admin.processes.affiliation_forms import DayField
from web.forms import text_field
from web.runtime import runtime
from workflows.formatting import PARIS
from workflows.models import Case
from workflows.money import parse_amount
from workflows.processes.emergency_advance.definition import REASON_MAX

#: The most staff may record as a coop's old balance received (a school coop's account
#: holds a few thousand euros: beyond this, a typing error).
MAX_FUNDS_CENTS = 100_000_000
#: A bank transfer's reference (SEPA: 140 characters).
REFERENCE_MAX = 140
AMOUNT_MISSING = "Indiquez le montant en euros, par exemple 1 800,00."
REFERENCE_TOO_LONG = f"Référence trop longue ({REFERENCE_MAX} caractères au plus)."


def paris_today() -> date:
    """Today in Paris, on the engine's clock (the tests move it)."""
    return runtime().engine.clock.now().astimezone(PARIS).date()


class NotInFuture:
    """A day that has already come (today in Paris at the latest)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: Any, field: Any) -> None:
        if field.data is not None and field.data > paris_today():
            raise ValidationError(self.message)


def prepare_today(field: str) -> Any:
    """A :class:`~admin.case_actions.StaffAction`'s ``prepare``: a blank form proposes
    today for its day ``field``."""

    def prepare(form: Any, session: Session, case: Case, fresh: bool) -> None:
        if fresh:
            form[field].data = paris_today()

    return prepare


def page_form(
    name: str, prefix: str, form: type[Any], endpoint: str, perform: Any, field: str, **kw: Any
) -> StaffAction:
    """A form of a task page or the case page (offered whenever its page is, unless
    ``offered`` says otherwise)."""
    kw.setdefault("offered", lambda case: True)
    return StaffAction(
        name, prefix=prefix, form=form, endpoint=endpoint, perform=perform, field=field, **kw
    )


def past_day(label: str, missing: str, future: str) -> Any:
    """A required day, typed ``jj/mm/aaaa`` or picked, today or before."""
    return DayField(label, validators=[InputRequired(missing), NotInFuture(future)])


def reference_field(label: str, missing: str) -> Any:
    return text_field(
        StringField, label, max_length=REFERENCE_MAX, too_long=REFERENCE_TOO_LONG, missing=missing
    )


def said_comment(label: str, missing: str, too_long: str = COMMENT_TOO_LONG) -> Any:
    """A required comment, saying what staff did or why: it goes to the history."""
    return text_field(TextAreaField, label, max_length=2000, too_long=too_long, missing=missing)


# The transfer -------------------------------------------------------------------------


class LettersSentForm(FlaskForm):
    """« Marquer comme envoyées »: the day the ticked letters were posted (no case
    version: each case is checked again when marked, and refused with why if it moved
    on)."""

    sent_on = past_day(
        "Envoyées le",
        "Indiquez la date d'envoi des lettres (jj/mm/aaaa).",
        "La date d'envoi ne peut pas être dans le futur.",
    )
    comment = optional_comment()


class LetterSentForm(CaseActionForm):
    """« Lettre envoyée »: the day one case's letter was posted to La Banque Postale."""

    sent_on = past_day(
        "Envoyée le",
        "Indiquez la date d'envoi de la lettre (jj/mm/aaaa).",
        "La date d'envoi ne peut pas être dans le futur.",
    )
    comment = optional_comment()


class FundsForm(CaseActionForm):
    """The old balance La Banque Postale paid: amount and day, as the statement says."""

    amount = text_field(
        StringField,
        "Montant reçu (€)",
        max_length=30,
        too_long=AMOUNT_MISSING,
        missing=AMOUNT_MISSING,
    )
    received_on = past_day(
        "Reçu le",
        "Indiquez la date de réception des fonds (jj/mm/aaaa).",
        "La date de réception ne peut pas être dans le futur.",
    )
    comment = optional_comment()
    #: Set by :meth:`validate_amount`.
    amount_cents = 0

    def validate_amount(self, field: Any) -> None:
        try:
            self.amount_cents = parse_amount(field.data, maximum_cents=MAX_FUNDS_CENTS)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class FollowUpForm(CaseActionForm):
    comment = said_comment(
        "Ce que vous avez fait (appel, courrier, réponse de La Banque Postale)",
        "Dites comment La Banque Postale a été relancée : c'est enregistré dans l'historique.",
    )


class AcceptAmountForm(CaseActionForm):
    comment = said_comment(
        "Pourquoi l'écart est accepté",
        "Expliquez l'écart entre le montant reçu et le solde déclaré : c'est enregistré "
        "dans l'historique.",
    )


# The advance --------------------------------------------------------------------------


class ApproveAdvanceForm(CaseActionForm):
    message = text_field(
        TextAreaField,
        "Message au mandataire (facultatif, il le lit)",
        max_length=REASON_MAX,
        too_long=f"Message trop long ({REASON_MAX} caractères au plus).",
    )


class RejectAdvanceForm(CaseActionForm):
    reason = said_comment(
        "Motif du refus (le mandataire le lit, par email et sur le portail)",
        "Indiquez le motif du refus : le mandataire le lira.",
        f"Motif trop long ({REASON_MAX} caractères au plus).",
    )


class DisbursementForm(CaseActionForm):
    disbursed_on = past_day(
        "Virement fait le",
        "Indiquez la date du virement (jj/mm/aaaa).",
        "La date du virement ne peut pas être dans le futur.",
    )
    reference = reference_field(
        "Référence du virement", "Indiquez la référence du virement (celle du relevé)."
    )
    comment = optional_comment()


class RepaymentForm(CaseActionForm):
    repaid_on = past_day(
        "Remboursée le",
        "Indiquez la date du remboursement (jj/mm/aaaa).",
        "La date du remboursement ne peut pas être dans le futur.",
    )
    reference = reference_field(
        "Référence du remboursement",
        "Indiquez la référence du remboursement (celle du relevé de l'AD).",
    )
    comment = optional_comment()
