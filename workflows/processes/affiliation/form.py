"""What the mandataire declares for the year, as it is kept in the case's ``data``.

``case.data`` of an affiliation::

    {
      "form": {                       # the mandataire's form (AffiliationForm.to_data)
        "classes": [{"name": "CE1", "teachers": "Mme Detruc - Mlle Machin",
                     "teacher_count": 2, "pupil_count": 23}, ...],
        "options": ["abonnement_toto"],          # codes of the price list's options
        "voluntary_cents": 0,                    # voluntary participation
        "change": null | {"mandataire": true|false, "signatories": true|false,
                          "first_name": "...", "last_name": "...", "email": "...",
                          "details": "..."},
      },
      "carried_from": 123,            # last year's validated case the classes came from
      "fee": {...},                   # Fee.to_data(), frozen by ``submit``
      "reference": "ADH-2026-0610524F",   # the payment reference (payment_reference)
      "deadline": "2026-09-30",       # the deadline in Paris (an AD's, or granted)
      "checks": {"payment": {...}, "commitment": {...}, "change_form": {...}},
      "returned_comment": "...",      # the staff's comment when sent back
    }

Every value is checked here (``parse_*``): a bad one is a French message next to its
field, and nothing is stored.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email

#: Bounds of what a school declares (a class over 60 pupils is a typing error).
MAX_CLASSES = 40
MAX_PUPILS_PER_CLASS = 60
MAX_TEACHERS_PER_CLASS = 10
NAME_MAX = 60
TEACHERS_MAX = 200
DETAILS_MAX = 2000
#: The new mandataire's names (``mandataires.first_name``/``last_name``).
PERSON_NAME_MAX = 100
#: Voluntary participation, at most 10 000,00 €.
MAX_VOLUNTARY_CENTS = 1_000_000

#: The three items staff check before the affiliation is validated.
PAYMENT, COMMITMENT, CHANGE_FORM = "payment", "commitment", "change_form"
CHECK_ITEMS = (PAYMENT, COMMITMENT, CHANGE_FORM)
CHECK_LABELS = {
    PAYMENT: "Paiement reçu",
    COMMITMENT: "Engagement du mandataire signé reçu",
    CHANGE_FORM: "Formulaire de changement de mandataire ou de signataires traité",
}


@dataclass
class SchoolClass:
    name: str
    teachers: str
    teacher_count: int
    pupil_count: int

    @property
    def total(self) -> int:
        return self.teacher_count + self.pupil_count


@dataclass
class Change:
    """A change of mandataire and/or of the account's signatories."""

    mandataire: bool = False
    signatories: bool = False
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    details: str = ""


@dataclass
class AffiliationForm:
    classes: list[SchoolClass] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    voluntary_cents: int = 0
    change: Change | None = None

    @property
    def pupils(self) -> int:
        return sum(c.pupil_count for c in self.classes)

    @property
    def teachers(self) -> int:
        return sum(c.teacher_count for c in self.classes)

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> AffiliationForm:
        data = data or {}
        change = data.get("change")
        return cls(
            classes=[SchoolClass(**c) for c in data.get("classes") or []],
            options=list(data.get("options") or []),
            voluntary_cents=int(data.get("voluntary_cents") or 0),
            change=Change(**change) if change else None,
        )


def form_of(case_data: dict[str, Any]) -> AffiliationForm:
    """The case's form (empty when the mandataire has not started it)."""
    return AffiliationForm.from_data(case_data.get("form"))


def payment_reference(year: int, affiliation_number: str) -> str:
    """The reference the mandataire writes on the payment: ``ADH-2026-0610524F``."""
    return f"ADH-{year}-{affiliation_number.upper()}"


REFERENCE = re.compile(r"ADH[-\s]?([0-9]{4})[-\s]?([0-9A-Z]{1,20})", re.IGNORECASE)


class FormError(ValueError):
    """French messages by field name (``classes-2-pupil_count``, ``voluntary``...)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def parse_count(raw: object, *, label: str, maximum: int) -> int:
    """A whole number from a form field, or ValueError with a French message."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        raise ValueError(f"Indiquez le nombre {label}.")
    if not text.isdecimal() or not text.isascii():
        raise ValueError(f"Le nombre {label} doit être un nombre entier (par exemple 23).")
    if len(text.lstrip("0")) > len(str(maximum)):  # int() of 5,000 digits refuses in English
        raise ValueError(f"Le nombre {label} ne peut pas dépasser {maximum}.")
    value = int(text)
    if value > maximum:
        raise ValueError(f"Le nombre {label} ne peut pas dépasser {maximum}.")
    return value


def parse_class(raw: dict[str, object], index: int) -> SchoolClass:
    """One class of the form; FormError keyed ``classes-<index>-<field>``."""
    errors: dict[str, str] = {}
    name = " ".join(str(raw.get("name") or "").split())
    teachers = " ".join(str(raw.get("teachers") or "").split())
    if not name:
        errors[f"classes-{index}-name"] = "Indiquez le nom ou le niveau de la classe."
    elif len(name) > NAME_MAX:
        errors[f"classes-{index}-name"] = (
            f"Nom de classe trop long ({NAME_MAX} caractères au plus)."
        )
    if len(teachers) > TEACHERS_MAX:
        errors[f"classes-{index}-teachers"] = (
            f"Noms des enseignants trop longs ({TEACHERS_MAX} caractères au plus)."
        )
    counts = {}
    for key, label, maximum in (
        ("teacher_count", "d'enseignants", MAX_TEACHERS_PER_CLASS),
        ("pupil_count", "d'élèves", MAX_PUPILS_PER_CLASS),
    ):
        try:
            counts[key] = parse_count(raw.get(key), label=label, maximum=maximum)
        except ValueError as exc:
            errors[f"classes-{index}-{key}"] = str(exc)
    if errors:
        raise FormError(errors)
    return SchoolClass(name, teachers, counts["teacher_count"], counts["pupil_count"])


def parse_change(raw: dict[str, object]) -> Change | None:
    """The optional change of mandataire and/or signatories; ``None`` when neither."""
    mandataire = bool(raw.get("mandataire"))
    signatories = bool(raw.get("signatories"))
    if not (mandataire or signatories):
        return None
    errors: dict[str, str] = {}
    first = " ".join(str(raw.get("first_name") or "").split())
    last = " ".join(str(raw.get("last_name") or "").split())
    email = str(raw.get("email") or "").strip()
    details = str(raw.get("details") or "").strip()
    if mandataire:
        if not first:
            errors["change-first_name"] = "Indiquez le prénom du nouveau mandataire."
        elif len(first) > PERSON_NAME_MAX:
            errors["change-first_name"] = (
                f"Prénom trop long ({PERSON_NAME_MAX} caractères au plus)."
            )
        if not last:
            errors["change-last_name"] = "Indiquez le nom du nouveau mandataire."
        elif len(last) > PERSON_NAME_MAX:
            errors["change-last_name"] = f"Nom trop long ({PERSON_NAME_MAX} caractères au plus)."
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            errors["change-email"] = (
                "Indiquez l'adresse email professionnelle du nouveau mandataire."
            )
    if signatories and not details:
        errors["change-details"] = "Indiquez les nouveaux signataires du compte."
    if len(details) > DETAILS_MAX:
        errors["change-details"] = f"Texte trop long ({DETAILS_MAX} caractères au plus)."
    if errors:
        raise FormError(errors)
    return Change(mandataire, signatories, first, last, email if mandataire else "", details)


def missing_for_submission(form: AffiliationForm) -> list[str]:
    """Why the form cannot be submitted yet, in French (empty: it can)."""
    if not form.classes:
        return ["Ajoutez au moins une classe avant d'envoyer l'adhésion."]
    return []
