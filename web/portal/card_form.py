"""The card's request (seed 002: « indiquez bien l'adresse de l'école »): the delivery
address, prefilled with the school's and checked against Swan's limits (PROVIDERS.md:
lines of 38 characters, a city of 30, a postal code of 10 in ``[0-9A-Z- ]``), the line
printed on the card (26), and the box by which the mandataire says they are responsible
for the card. An address other than the school's needs a reason (staff approve it). Each
refusal is said in French next to its field with the limit and the count, and nothing is
stored (:mod:`web.portal.card_order` stores it)."""

from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, StringField, TextAreaField, ValidationError

from web.portal.attestation_form import Ticked
from workflows.formatting import french_spacing as fr
from workflows.models import Coop
from workflows.processes.card_order.definition import COMMENT_MAX, PRINTED_LINE_MAX
from workflows.processes.card_order.holder import embossed

LINE_MAX = 38
CITY_MAX = 30
POSTAL_CODE_MAX = 10
RESPONSIBLE = "Je suis responsable de la carte de la coopérative"
NOT_RESPONSIBLE = fr("Cochez cette case : vous êtes responsable de la carte de la coopérative.")
LINE1_REQUIRED = "Indiquez le numéro et la rue de l'adresse de livraison."
POSTAL_CODE_REQUIRED = "Indiquez le code postal de l'adresse de livraison."
POSTAL_CODE_CHARACTERS = fr(
    "Code postal : des chiffres, des lettres majuscules, des espaces ou des tirets seulement."
)
CITY_REQUIRED = "Indiquez la ville de l'adresse de livraison."
REASON_REQUIRED = fr(
    "Dites pourquoi la carte ne peut pas être livrée à l'école : votre AD doit approuver "
    "une autre adresse."
)
CONTROL = fr("Ce texte contient des caractères qui ne s'impriment pas (retour à la ligne…).")

#: The form's fields, in its order (the refusal's list at the top names them).
FIELDS = {
    "line1": "Adresse (numéro et rue)",
    "line2": "Complément d'adresse",
    "postal_code": "Code postal",
    "city": "Ville",
    "reason": fr("Pourquoi une autre adresse que celle de l'école ?"),
    "printed_line": "Ligne imprimée sur la carte",
    "responsible": RESPONSIBLE,
}
_POSTAL_CODE = re.compile(r"[0-9A-Z -]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def too_long(count: int, maximum: int) -> str:
    """« 30 caractères : 26 au plus. »"""
    return fr(f"{count} caractères : {maximum} au plus.")


class Limit:
    """At most ``maximum`` characters (spaces around not counted), said with the count;
    on one line (an address, a printed line) unless ``lines``."""

    def __init__(self, maximum: int, *, lines: bool = False) -> None:
        self.maximum, self.lines = maximum, lines

    def __call__(self, form: FlaskForm, field: Field) -> None:
        value = (field.data or "").strip()
        field.data = value
        if not self.lines and _CONTROL.search(value):
            raise ValidationError(CONTROL)
        if len(value) > self.maximum:
            raise ValidationError(too_long(len(value), self.maximum))


class Required:
    """A field to fill (its French message), checked after its limit."""

    field_flags = {"required": True}

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if not (field.data or "").strip():
            raise ValidationError(self.message)


def _text(name: str, maximum: int, required: str | None = None, **kwargs: Any) -> StringField:
    checks: list[Any] = [Limit(maximum)]
    if required:
        checks.insert(0, Required(required))
    return StringField(FIELDS[name], validators=checks, **kwargs)


_RESPONSIBLE = Ticked(RESPONSIBLE)
_RESPONSIBLE.message = NOT_RESPONSIBLE


def postal_code_of(typed: str) -> str | None:
    """The postal code as Swan takes it (capitals, single spaces), or ``None`` if it has
    a character Swan refuses."""
    code = " ".join(typed.upper().split())
    return code if _POSTAL_CODE.fullmatch(code) else None


def school_lines(street: str) -> tuple[str, str]:
    """The school's street as two address lines of at most 38 characters (cut between
    words), the rest left on the second for the mandataire to shorten."""
    street = " ".join(street.split())
    if len(street) <= LINE_MAX:
        return street, ""
    cut = street.rfind(" ", 0, LINE_MAX + 1)
    cut = cut if cut > 0 else LINE_MAX
    return street[:cut].strip(), street[cut:].strip()


def _same(text: str) -> str:
    """An address as compared: capitals without accents, punctuation as spaces."""
    return " ".join(re.sub(r"[^0-9A-Z]+", " ", embossed(text)).split())


class CardForm(FlaskForm):
    """The request; once valid, :meth:`request_data` is what the case keeps."""

    line1 = _text("line1", LINE_MAX, LINE1_REQUIRED)
    line2 = _text("line2", LINE_MAX)
    postal_code = _text("postal_code", POSTAL_CODE_MAX, POSTAL_CODE_REQUIRED)
    city = _text("city", CITY_MAX, CITY_REQUIRED)
    reason = TextAreaField(FIELDS["reason"], validators=[Limit(COMMENT_MAX, lines=True)])
    printed_line = _text("printed_line", PRINTED_LINE_MAX)
    responsible = BooleanField(RESPONSIBLE, validators=[_RESPONSIBLE])

    def __init__(self, coop: Coop, *, prefill: bool = False, **kwargs: Any) -> None:
        """``prefill``: the page's first rendering, the school's address in the fields
        (a post reads only what was posted)."""
        if prefill:
            line1, line2 = school_lines(coop.street)
            kwargs["formdata"] = None
            kwargs["data"] = {
                "line1": line1,
                "line2": line2,
                "postal_code": coop.postal_code,
                "city": coop.city,
            }
        super().__init__(**kwargs)
        self.coop = coop

    def validate_postal_code(self, field: Field) -> None:
        if field.errors:  # missing or too long: said once
            return
        code = postal_code_of(field.data or "")
        if code is None:
            raise ValidationError(POSTAL_CODE_CHARACTERS)
        if len(code) > POSTAL_CODE_MAX:  # « ß » in capitals is « SS »
            raise ValidationError(too_long(len(code), POSTAL_CODE_MAX))
        field.data = code

    def validate_reason(self, field: Field) -> None:
        # An address refused already (too long…): its own error says what to change.
        address = (self.line1, self.line2, self.postal_code, self.city)
        if field.errors or any(f.errors for f in address):
            return
        if not self.at_school() and not field.data:
            raise ValidationError(REASON_REQUIRED)

    def address(self) -> dict[str, str]:
        return {
            "line1": self.line1.data or "",
            "line2": self.line2.data or "",
            "postal_code": self.postal_code.data or "",
            "city": self.city.data or "",
            "country": "FRA",
        }

    def at_school(self) -> bool:
        """Whether the address typed is the school's (case, accents, punctuation and a
        street cut in two lines aside)."""
        typed = self.address()
        street = f"{typed['line1']} {typed['line2']}"
        return (
            _same(street) == _same(self.coop.street)
            and _same(typed["postal_code"]) == _same(self.coop.postal_code)
            and _same(typed["city"]) == _same(self.coop.city)
        )

    def request_data(self) -> dict[str, Any]:
        """What the case keeps of the request (the definition's docstring), but who and
        when."""
        school = self.at_school()
        data: dict[str, Any] = {
            "address": self.address(),
            "school_address": school,
            "printed_line": self.printed_line.data or "",
            "responsible": True,
        }
        if not school:
            data["reason"] = self.reason.data or ""
        return data
