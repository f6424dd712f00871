"""The forms of « Avance d'urgence » (seed 002): the request (« date / projet /
désignation / prestataire qui attend le paiement / son IBAN / montant », and the quote
or invoice), and the signature of the repayment contract (the full name typed, the
consent ticked). What each checks is said in French next to its field; nothing is
stored here (:mod:`web.portal.emergency_advance` stores it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, Field, StringField, ValidationError

from web.forms import text_field
from web.portal.rib_form import DateGiven, RibDate
from workflows.formatting import euros
from workflows.money import parse_amount
from workflows.processes.iban import rib_checks
from workflows.processes.iban.submission import RibFile, check_rib_file
from workflows.search import fold

#: The request's fields, in its order (the refusal's list at the top names them).
FIELDS = {
    "project": "Le séjour ou le voyage",
    "project_on": "Date du départ",
    "pays_for": "Ce que l'avance paie",
    "supplier": "Le prestataire qui attend le paiement",
    "supplier_iban": "IBAN du prestataire",
    "amount": "Montant de l'avance (en euros)",
    "quote": "Devis ou facture du prestataire (PDF, PNG ou JPEG)",
}
#: Past it, an amount is a typing error whatever the limits (cents).
AMOUNT_MAX_CENTS = 100_000_000
#: How far ahead a trip may be asked for (an advance pays what is due now).
AHEAD = timedelta(days=730)

PROJECT_REQUIRED = "Indiquez le séjour ou le voyage, par exemple « Classe de découverte à Auron »."
DATE_REQUIRED = "Indiquez la date du départ (ou du séjour)."
DATE_PAST = (
    "Cette date est passée : une avance n'est possible que pour un séjour ou un voyage à venir."
)
DATE_TOO_FAR = "Cette date est à plus de deux ans : vérifiez l'année."
PAYS_FOR_REQUIRED = "Indiquez ce que l'avance paie, par exemple « Acompte de l'hébergement »."
SUPPLIER_REQUIRED = "Indiquez le prestataire qui attend le paiement."
AMOUNT_REQUIRED = "Indiquez le montant de l'avance en euros, par exemple 800,00."
QUOTE_REQUIRED = "Joignez le devis ou la facture du prestataire (PDF, PNG ou JPEG)."
QUOTE_NOT_ACCEPTED = (
    "Ce fichier n'est ni un PDF, ni une image PNG ou JPEG (son contenu a été vérifié, pas "
    "seulement son nom). Joignez le devis ou la facture au format PDF, PNG ou JPEG."
)
QUOTE_TOO_LARGE = "Le fichier dépasse 5 Mo : joignez un scan ou le PDF du prestataire plus léger."
NO_DECLARED_BALANCE = (
    "Remplissez d'abord l'attestation du solde Banque Postale : l'avance ne peut pas dépasser "
    "le solde que vous y déclarez."
)


def above_balance(declared_cents: int) -> str:
    return (
        "L'avance ne peut pas dépasser le solde déclaré de votre compte La Banque Postale "
        f"({euros(declared_cents)})."
    )


def above_cap(cap_cents: int) -> str:
    return f"L'avance ne peut pas dépasser le plafond fixé par votre AD ({euros(cap_cents)})."


@dataclass(frozen=True)
class Limits:
    """What bounds a request: the day (Paris), the balance the coop declared (``None``:
    not attested yet), the AD's cap."""

    today: date
    declared_cents: int | None
    cap_cents: int


class AdvanceForm(FlaskForm):
    """The request. Set :attr:`limits` before validating; once valid,
    :attr:`supplier_iban_compact`, :attr:`amount_cents` and :attr:`checked` hold what is
    stored."""

    project = text_field(
        StringField,
        FIELDS["project"],
        max_length=200,
        too_long="Nom du projet trop long (200 caractères au plus).",
        missing=PROJECT_REQUIRED,
    )
    project_on = RibDate(
        FIELDS["project_on"],
        format=["%Y-%m-%d", "%d/%m/%Y"],
        validators=[DateGiven(DATE_REQUIRED)],
        invalid_value_message="Date invalide : indiquez-la sous la forme jj/mm/aaaa.",
    )
    pays_for = text_field(
        StringField,
        FIELDS["pays_for"],
        max_length=300,
        too_long="Désignation trop longue (300 caractères au plus).",
        missing=PAYS_FOR_REQUIRED,
    )
    supplier = text_field(
        StringField,
        FIELDS["supplier"],
        max_length=140,
        too_long="Nom du prestataire trop long (140 caractères au plus).",
        missing=SUPPLIER_REQUIRED,
    )
    supplier_iban = text_field(
        StringField,
        FIELDS["supplier_iban"],
        max_length=60,
        too_long="IBAN trop long : 34 caractères au plus.",
        missing=rib_checks.IBAN_REQUIRED,
    )
    amount = text_field(
        StringField,
        FIELDS["amount"],
        max_length=30,
        too_long="Montant trop long : indiquez-le en euros, par exemple 800,00.",
        missing=AMOUNT_REQUIRED,
    )
    quote = FileField(FIELDS["quote"], validators=[FileRequired(QUOTE_REQUIRED)])

    limits: Limits
    supplier_iban_compact: str | None = None
    amount_cents: int | None = None
    checked: RibFile | None = None

    def validate_project_on(self, field: Field) -> None:
        if field.data is None:  # unreadable: said by the field itself
            return
        if field.data < self.limits.today:
            raise ValidationError(DATE_PAST)
        if field.data > self.limits.today + AHEAD:
            raise ValidationError(DATE_TOO_FAR)

    def validate_supplier_iban(self, field: Field) -> None:
        if field.errors:  # too long: said once
            return
        iban, error = rib_checks.parse_iban(field.data or "")
        if iban is None:
            raise ValidationError(error or rib_checks.IBAN_INVALID)
        self.supplier_iban_compact = iban.compact

    def validate_amount(self, field: Field) -> None:
        if field.errors:  # too long: said once
            return
        try:
            cents = parse_amount(field.data, maximum_cents=AMOUNT_MAX_CENTS)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        declared, cap = self.limits.declared_cents, self.limits.cap_cents
        if declared is None:
            raise ValidationError(NO_DECLARED_BALANCE)
        # Above both: the lower limit is the one to say.
        for limit, said in sorted(((declared, above_balance(declared)), (cap, above_cap(cap)))):
            if cents > limit:
                raise ValidationError(said)
        self.amount_cents = cents

    def validate_quote(self, field: Field) -> None:
        try:
            self.checked = check_rib_file(field.data.read(), not_accepted=QUOTE_NOT_ACCEPTED)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


# The signature -------------------------------------------------------------------------

SIGNATURE_NAME_REQUIRED = "Tapez votre prénom et votre nom pour signer."
CONSENT_REQUIRED = (
    "Cochez la case : sans votre engagement à rembourser l'avance, le contrat n'est pas signé."
)


def words_of(name: str) -> list[str]:
    """A name's words without case, accents nor punctuation: « Éloïse  MARTIN » and
    « eloise martin » are the same words."""
    return re.findall(r"[^\W_]+", fold(name) or "")


def name_mismatch(expected: str) -> str:
    return (
        f"Ce nom n'est pas le vôtre : tapez votre prénom et votre nom, « {expected} » "
        "(majuscules, accents et espaces n'y changent rien)."
    )


class SignatureForm(FlaskForm):
    """The signature. Set :attr:`first_name` and :attr:`last_name` (the mandataire's)
    before validating; once valid, :attr:`signed_name` is the name as typed, its spaces
    made single."""

    full_name = text_field(
        StringField,
        "Votre prénom et votre nom",
        max_length=200,
        too_long="Nom trop long (200 caractères au plus).",
        missing=SIGNATURE_NAME_REQUIRED,
    )
    consent = BooleanField("J'ai lu le contrat et je m'engage à rembourser l'avance")

    first_name: str = ""
    last_name: str = ""
    signed_name: str | None = None

    def validate_full_name(self, field: Field) -> None:
        if field.errors:  # too long: said once
            return
        typed = words_of(field.data or "")
        first, last = words_of(self.first_name), words_of(self.last_name)
        if typed not in (first + last, last + first):
            raise ValidationError(name_mismatch(f"{self.first_name} {self.last_name}"))
        self.signed_name = " ".join((field.data or "").split())

    def validate_consent(self, field: Field) -> None:
        if field.data is not True:
            raise ValidationError(CONSENT_REQUIRED)
