"""The checks a typed RIB goes through, as pure functions (no database, no web).

``check_rib`` turns what the mandataire typed into a :class:`RibVerdict`: French messages tied
to the field they are about (the RIB is refused when there is any), the reasons a person must
look at it (holder not recognised, bank unknown to schwifty's registry, IBAN not French), and
the normalised IBAN and BIC. ``mask_iban`` is how an IBAN is shown once saved.

schwifty's ``IBAN(s)`` checks characters, length, format and the mod-97 check digits only;
the French RIB key is checked with ``validate_bban=True``, asked for French IBANs only (other
countries without a registered algorithm would only warn).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, TypeVar

from schwifty import BIC, IBAN
from schwifty import exceptions as schwifty_errors

Outcome = Literal["rejected", "needs_review", "verified"]

#: A RIB older than this is refused (365 days still accepted, 366 refused).
MAX_RIB_AGE = timedelta(days=365)

IBAN_REQUIRED = "Saisissez l'IBAN."
IBAN_BAD_CHECK_DIGITS = "IBAN invalide : la clé de contrôle ne correspond pas."
IBAN_BAD_LENGTH = "IBAN invalide : longueur incorrecte pour ce pays."
IBAN_BAD_COUNTRY = "IBAN invalide : code pays inconnu."
IBAN_BAD_FORMAT = "IBAN invalide : caractères ou format incorrects pour ce pays."
IBAN_INVALID = "IBAN invalide."
IBAN_BAD_RIB_KEY = "IBAN invalide : la clé RIB ne correspond pas au numéro de compte."

BIC_REQUIRED = "Saisissez le BIC."
BIC_BAD_LENGTH = "BIC invalide : il compte 8 ou 11 caractères."
BIC_BAD_FORMAT = (
    "BIC invalide : format incorrect (4 caractères pour la banque, 2 lettres pour le pays, "
    "2 caractères pour la ville, 3 facultatifs pour l'agence)."
)
BIC_BAD_COUNTRY = "BIC invalide : code pays inconnu."
BIC_INVALID = "BIC invalide."

RIB_DATE_IN_FUTURE = "La date du RIB ne peut pas être dans le futur."
RIB_TOO_OLD = "Ce RIB a plus de 12 mois : joignez un RIB récent (moins de 12 mois)."

HOLDER_REQUIRED = "Saisissez le titulaire du compte."

BANK_NOT_IN_REGISTRY = "Banque de cet IBAN inconnue du registre : vérifiez le BIC sur le RIB joint."


@dataclass(frozen=True)
class RibInput:
    """What was typed, as typed (the IBAN may have spaces or lower case)."""

    iban: str
    bic: str
    holder: str
    rib_date: date


@dataclass(frozen=True)
class RibVerdict:
    """``errors``: field → French message (refused when any); ``review``: French reasons a
    person must look at it; ``iban``/``bic``: normalised values when they are valid."""

    errors: dict[str, str] = field(default_factory=dict)
    review: list[str] = field(default_factory=list)
    iban: str | None = None
    bic: str | None = None

    @property
    def outcome(self) -> Outcome:
        if self.errors:
            return "rejected"
        if self.review:
            return "needs_review"
        return "verified"


def compact(value: str) -> str:
    """``value`` without any white space, upper case (how IBANs and BICs are compared)."""
    return "".join(value.split()).upper()


def check_rib(value: RibInput, *, today: date, expected_holders: Sequence[str]) -> RibVerdict:
    """Every check of a typed RIB; see the module's docstring."""
    errors: dict[str, str] = {}
    review: list[str] = []

    iban = _check_iban(value.iban, errors, review)
    bic = _check_bic(value.bic, iban, errors, review)
    _check_date(value.rib_date, today, errors)
    _check_holder(value.holder, expected_holders, errors, review)

    return RibVerdict(
        errors=errors,
        review=review,
        iban=str(iban) if iban is not None else None,
        bic=str(bic) if bic is not None else None,
    )


T = TypeVar("T")

_IBAN_ERRORS: dict[type[Exception], str] = {
    schwifty_errors.InvalidChecksumDigits: IBAN_BAD_CHECK_DIGITS,
    schwifty_errors.InvalidLength: IBAN_BAD_LENGTH,
    schwifty_errors.InvalidCountryCode: IBAN_BAD_COUNTRY,
    schwifty_errors.InvalidStructure: IBAN_BAD_FORMAT,
}
_BIC_ERRORS: dict[type[Exception], str] = {
    schwifty_errors.InvalidLength: BIC_BAD_LENGTH,
    schwifty_errors.InvalidStructure: BIC_BAD_FORMAT,
    schwifty_errors.InvalidCountryCode: BIC_BAD_COUNTRY,
}


def _parsed(
    kind: Callable[[str], T],
    typed: str,
    messages: dict[type[Exception], str],
    required: str,
    fallback: str,
    name: str,
    errors: dict[str, str],
) -> T | None:
    """``kind`` of the typed value without its spaces, or ``None`` with the French
    message in ``errors[name]``: ``required`` when empty, else that of schwifty's error
    (the first of ``messages`` it is an instance of)."""
    cleaned = compact(typed)
    if not cleaned:
        errors[name] = required
        return None
    try:
        return kind(cleaned)
    except schwifty_errors.SchwiftyException as exc:
        errors[name] = next((m for c, m in messages.items() if isinstance(exc, c)), fallback)
        return None


def _check_iban(typed: str, errors: dict[str, str], review: list[str]) -> IBAN | None:
    iban = _parsed(IBAN, typed, _IBAN_ERRORS, IBAN_REQUIRED, IBAN_INVALID, "iban", errors)
    if iban is None:
        return None
    if iban.country_code == "FR":
        try:
            iban.validate(validate_bban=True)
        except schwifty_errors.SchwiftyException:
            errors["iban"] = IBAN_BAD_RIB_KEY
            return None
    else:
        review.append(
            f"IBAN non français (pays {iban.country_code}) : vérifiez-le sur le RIB joint."
        )
    return iban


def parse_iban(typed: str) -> tuple[IBAN | None, str | None]:
    """The IBAN typed (spaces allowed) checked as a RIB's is, French RIB key included,
    or its French error: what another process's form reuses (the supplier of an
    advance, the old Banque Postale account)."""
    errors: dict[str, str] = {}
    iban = _check_iban(typed, errors, [])
    return iban, errors.get("iban")


def _bank_bics(iban: IBAN) -> list[str]:
    """The 8-character BICs schwifty's registry knows for the IBAN's bank (maybe none)."""
    known: list[str] = []
    if iban.bic is not None:
        known.append(str(iban.bic)[:8])
    try:
        candidates = BIC.candidates_from_bank_code(iban.country_code, iban.bank_code)
    except schwifty_errors.SchwiftyException:
        candidates = []
    for candidate in candidates:
        if str(candidate)[:8] not in known:
            known.append(str(candidate)[:8])
    return known


def _check_bic(
    typed: str, iban: IBAN | None, errors: dict[str, str], review: list[str]
) -> BIC | None:
    bic = _parsed(BIC, typed, _BIC_ERRORS, BIC_REQUIRED, BIC_INVALID, "bic", errors)
    if bic is None:
        return None
    if iban is None:
        return bic
    if bic.country_code != iban.country_code:
        errors["bic"] = (
            f"Le pays du BIC ({bic.country_code}) n'est pas celui de l'IBAN ({iban.country_code})."
        )
        return None
    known = _bank_bics(iban)
    if not known:
        review.append(BANK_NOT_IN_REGISTRY)
    elif str(bic)[:8] not in known:
        errors["bic"] = (
            f"Ce BIC n'est pas celui de la banque de cet IBAN (attendu : {', '.join(known)})."
        )
        return None
    return bic


def _check_date(rib_date: date, today: date, errors: dict[str, str]) -> None:
    if rib_date > today:
        errors["rib_date"] = RIB_DATE_IN_FUTURE
    elif today - rib_date > MAX_RIB_AGE:
        errors["rib_date"] = RIB_TOO_OLD


def fold_holder(name: str) -> str:
    """``name`` without case, accents, punctuation nor spaces: « l'École » → ``lecole``."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    letters = letters.replace("œ", "oe").replace("æ", "ae")
    return "".join(c for c in letters if c.isalnum())


def _check_holder(
    holder: str,
    expected_holders: Sequence[str],
    errors: dict[str, str],
    review: list[str],
) -> None:
    folded = fold_holder(holder)
    if not folded:
        errors["holder"] = HOLDER_REQUIRED
        return
    # A RIB names the holder and often the school after it (« OCCE 06 COOP ÉCOLE
    # JAURÈS »): an expected name at the start is enough.
    if any(
        (wanted := fold_holder(expected)) and folded.startswith(wanted)
        for expected in expected_holders
    ):
        return
    expected = " ou ".join(f"« {name} »" for name in expected_holders if name.strip())
    awaited = f"l'AD attend {expected}" if expected else "l'AD n'a indiqué aucun titulaire"
    review.append(f"Titulaire « {holder.strip()} » non reconnu : {awaited}.")


def mask_iban(iban: str) -> str:
    """The IBAN as shown once saved: country and check digits, then ``*`` but for the last
    4 characters, in groups of 4 like a printed IBAN."""
    cleaned = compact(iban)
    shown_end = max(len(cleaned) - 4, 4)
    masked = cleaned[:4] + "*" * (shown_end - 4) + cleaned[shown_end:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))
