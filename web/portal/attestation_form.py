"""The attestation of « Solde Banque Postale » (seed 002): the three statements, each a
required box; the old account's IBAN, of La Banque Postale (bank code 20041, RIB key
right); its balance in euros and cents. Each refusal is said in French next to its
field, and nothing is stored (:mod:`web.portal.banque_postale_transfer` stores it)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, StringField, ValidationError

from web.forms import text_field
from workflows.money import parse_amount
from workflows.processes.banque_postale_transfer.attestation import (
    OLD_ACCOUNT_REQUIRED,
    parse_old_account,
)
from workflows.processes.banque_postale_transfer.definition import STATEMENTS

#: The most a coop's old account may hold: past it, a typing error (cents).
BALANCE_MAX_CENTS = 100_000_000
BALANCE_REQUIRED = (
    "Indiquez le solde du compte en euros, par exemple 1 800,00 (0,00 si le compte est vide)."
)
#: The form's fields, in its order (the refusal's list at the top names them).
FIELDS = {
    **STATEMENTS,
    "old_account": "Numéro du compte La Banque Postale (IBAN)",
    "balance": "Solde du compte (en euros)",
}


def unticked(statement: str) -> str:
    """« Cochez cette déclaration : tous les chèques émis ont été débités. »"""
    return f"Cochez cette déclaration : {statement[:1].lower()}{statement[1:]}"


class Ticked:
    """A statement the mandataire must tick: its box unticked is refused next to it."""

    field_flags = {"required": True}

    def __init__(self, statement: str) -> None:
        self.message = unticked(statement)

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if field.data is not True:
            raise ValidationError(self.message)


def _statement(name: str) -> BooleanField:
    return BooleanField(STATEMENTS[name], validators=[Ticked(STATEMENTS[name])])


class AttestationForm(FlaskForm):
    """What the mandataire attests; once valid, :attr:`old_account_iban` and
    :attr:`declared_cents` hold what is stored."""

    cheques_issued = _statement("cheques_issued")
    cheques_deposited = _statement("cheques_deposited")
    no_operation = _statement("no_operation")
    old_account = text_field(
        StringField,
        FIELDS["old_account"],
        max_length=60,
        too_long="IBAN trop long : 34 caractères au plus.",
        missing=OLD_ACCOUNT_REQUIRED,
    )
    balance = text_field(
        StringField,
        FIELDS["balance"],
        max_length=30,
        too_long="Montant trop long : indiquez-le en euros, par exemple 1 800,00.",
        missing=BALANCE_REQUIRED,
    )

    old_account_iban: str | None = None
    declared_cents: int | None = None

    def validate_old_account(self, field: Field) -> None:
        if field.errors:  # too long: said once
            return
        iban, error = parse_old_account(field.data or "")
        if error is not None:
            raise ValidationError(error)
        self.old_account_iban = iban

    def validate_balance(self, field: Field) -> None:
        if field.errors:  # too long: said once
            return
        # An empty old account is a balance too (0,00 €): the account is closed all the
        # same; a negative one is not La Banque Postale's to pay.
        try:
            self.declared_cents = parse_amount(
                field.data, maximum_cents=BALANCE_MAX_CENTS, zero_allowed=True
            )
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
