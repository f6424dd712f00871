"""The RIB form of « Compte bancaire »: what it checks at once, before anything is
stored — each field given and shaped like an IBAN, a BIC, a date; the file a PDF, PNG
or JPEG of at most 5 Mo, by its content (its magic bytes), whatever its name says.
Whether the RIB is good (mod-97, RIB key, bank, age, holder) is for the step
``check_rib`` (:mod:`workflows.processes.iban.rib_checks`)."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, Field, StringField, ValidationError
from wtforms.validators import StopValidation

from web.forms import text_field
from workflows.processes.iban import rib_checks
from workflows.processes.iban.submission import (
    RibFile,
    check_rib_file,
)

#: The form's fields, in its order: a refusal's messages are listed in it.
FIELDS = {
    "iban": "IBAN",
    "bic": "BIC",
    "holder": "Titulaire du compte",
    "rib_date": "Date du RIB",
    "rib": "RIB (PDF, PNG ou JPEG)",
}
_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_BIC_SHAPE = re.compile(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?")
IBAN_SHAPE = (
    "IBAN invalide : 2 lettres (le pays), 2 chiffres puis des lettres et des chiffres, "
    "34 caractères au plus, par exemple FR76 3000 6000 0112 3456 7890 189."
)
RIB_REQUIRED = "Joignez votre RIB (PDF, PNG ou JPEG)."
RIB_TOO_LARGE = "Le fichier dépasse 5 Mo : joignez le RIB téléchargé depuis votre banque en ligne."


def _iban_shape(form: FlaskForm, field: Field) -> None:
    if not _IBAN_SHAPE.fullmatch(rib_checks.compact(field.data or "")):
        raise ValidationError(IBAN_SHAPE)


def _bic_shape(form: FlaskForm, field: Field) -> None:
    bic = rib_checks.compact(field.data or "")
    if len(bic) not in (8, 11):
        raise ValidationError(rib_checks.BIC_BAD_LENGTH)
    if not _BIC_SHAPE.fullmatch(bic):
        raise ValidationError(rib_checks.BIC_BAD_FORMAT)


DATE_REQUIRED = "Indiquez la date du RIB."
DATE_INVALID = "Date invalide : indiquez-la sous la forme jj/mm/aaaa."


class RibDate(DateField):
    """A date input (``2026-09-01`` from a date picker, ``01/09/2026`` typed): blank,
    spaces included, reads as missing rather than as a bad date; other digits than
    0-9 are a bad date (``strptime`` would read them)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        typed = " ".join(valuelist).strip()
        if not typed:
            self.data = None
            return
        if not typed.isascii():
            self.data = None
            raise ValueError(DATE_INVALID)
        super().process_formdata([typed])


class DateGiven:
    """The date is required: said once, and not over a bad date's own message."""

    field_flags = {"required": True}

    def __init__(self, message: str = DATE_REQUIRED) -> None:
        self.message = message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if field.data is None and not field.process_errors:
            raise StopValidation(self.message)


class RibForm(FlaskForm):
    """The RIB's four typed fields and its file, each with its French messages."""

    iban = text_field(
        StringField,
        FIELDS["iban"],
        max_length=60,
        too_long="IBAN trop long : 34 caractères au plus.",
        missing=rib_checks.IBAN_REQUIRED,
        validators=(_iban_shape,),
    )
    bic = text_field(
        StringField,
        FIELDS["bic"],
        max_length=20,
        too_long=rib_checks.BIC_BAD_LENGTH,
        missing=rib_checks.BIC_REQUIRED,
        validators=(_bic_shape,),
    )
    holder = text_field(
        StringField,
        FIELDS["holder"],
        max_length=140,
        too_long="Nom du titulaire trop long (140 caractères au plus).",
        missing=rib_checks.HOLDER_REQUIRED,
    )
    rib_date = RibDate(
        FIELDS["rib_date"],
        format=["%Y-%m-%d", "%d/%m/%Y"],
        validators=[DateGiven()],
        invalid_value_message=DATE_INVALID,
    )
    rib = FileField(FIELDS["rib"], validators=[FileRequired(RIB_REQUIRED)])

    #: The file, once its content is checked.
    checked: RibFile | None = None

    def validate_rib(self, field: Field) -> None:
        try:
            self.checked = check_rib_file(field.data.read())
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
