"""The forms of the affiliation's staff pages (:mod:`admin.processes.affiliation`), with
their French messages: the payment received (amount « 136,99 », date, reference), the
signed commitment and the change form (a box to tick, a note), the affiliation sent back
(what to correct), a new deadline (a day after today)."""

from __future__ import annotations

from datetime import date
from typing import Any

from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, ValidationError

from admin.forms import COMMENT_TOO_LONG, CaseActionForm, FrenchDateField, optional_comment
from web.forms import text_field
from web.runtime import runtime
from workflows.engine.cross_process import PARIS
from workflows.money import parse_euros
from workflows.processes.affiliation import validation

NOTE_TOO_LONG = "Note trop longue (2000 caractères au plus)."
AMOUNT_MISSING = "Indiquez le montant reçu, par exemple 136,99."


class DayField(FrenchDateField):
    """A day: the date input's ``YYYY-MM-DD``, or ``dd/mm/yyyy`` typed by hand (spaces
    around it ignored; digits other than ASCII refused, as everywhere)."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(label, format=["%Y-%m-%d", "%d/%m/%Y"], **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        typed = [str(v).strip() for v in valuelist]
        if not all(v.isascii() for v in typed):
            self.data = None
            raise ValueError(self.message)
        super().process_formdata(typed)


def _today() -> date:
    return runtime().engine.clock.now().astimezone(PARIS).date()


def _note() -> Any:
    return text_field(TextAreaField, "Note (facultatif)", max_length=2000, too_long=NOTE_TOO_LONG)


class PaymentForm(CaseActionForm):
    amount = text_field(
        StringField,
        "Montant reçu (€)",
        max_length=20,
        too_long=AMOUNT_MISSING,
        missing=AMOUNT_MISSING,
    )
    received_on = DayField(
        "Reçu le", validators=[InputRequired("Indiquez la date de réception (jj/mm/aaaa).")]
    )
    reference = text_field(
        StringField,
        "Référence du paiement (virement, chèque)",
        max_length=validation.REFERENCE_MAX,
        too_long=f"Référence trop longue ({validation.REFERENCE_MAX} caractères au plus).",
        missing="Indiquez la référence du paiement.",
    )
    comment = optional_comment()

    def validate_amount(self, field: Any) -> None:
        try:
            cents = parse_euros(field.data, maximum_cents=validation.MAX_PAYMENT_CENTS)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if cents <= 0:
            raise ValidationError(AMOUNT_MISSING)
        self.amount_cents = cents

    def validate_received_on(self, field: Any) -> None:
        if field.data is not None and field.data > _today():
            raise ValidationError("La date de réception ne peut pas être dans le futur.")


class CommitmentForm(CaseActionForm):
    received = BooleanField(
        "J'ai reçu l'engagement du mandataire, signé",
        validators=[DataRequired("Cochez la case : l'engagement signé est-il bien reçu ?")],
    )
    note = _note()


class ChangeFormForm(CaseActionForm):
    handled = BooleanField(
        "Le changement déclaré est traité (formulaire reçu, signataires mis à jour)",
        validators=[DataRequired("Cochez la case : le changement est-il bien traité ?")],
    )
    note = _note()


class SendBackForm(CaseActionForm):
    comment = text_field(
        TextAreaField,
        "Ce que le mandataire doit corriger (il le lit)",
        max_length=2000,
        too_long=COMMENT_TOO_LONG,
        missing="Dites au mandataire ce qu'il doit corriger : le commentaire est vide.",
    )


class ExtendForm(CaseActionForm):
    deadline = DayField(
        "Nouvelle date limite",
        validators=[InputRequired("Indiquez la nouvelle date limite (jj/mm/aaaa).")],
    )
    comment = optional_comment()

    def validate_deadline(self, field: Any) -> None:
        if field.data is not None and field.data <= _today():
            raise ValidationError("La nouvelle date limite doit être après aujourd'hui.")
