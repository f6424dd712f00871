"""What « Vérification de l'espace » shows, and the coop details its mandataire may edit.

The guide (seed 000, step 3) lets the mandataire complete the postal address, give a
phone number and put the school's logo; the email is not theirs to change. Each change
is written with an audit line on the coop's ``space_check`` case, in the caller's
transaction: refused input writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from workflows.coop_csv import POSTAL_CODE
from workflows.mandataires import with_account
from workflows.models import Case, Coop, Document
from workflows.processes.iban.accounts import certified_account
from workflows.processes.space_check.definition import PROCESS

if TYPE_CHECKING:
    from workflows.engine.engine import Actor, UnitOfWork

#: A coop's logo is a ``Document`` of this kind (one at a time), never listed as a document.
LOGO_KIND = "logo"
LOGO_MAX_BYTES = 1024 * 1024
#: Magic bytes: what the file is, whatever its name or the browser's content type say.
_LOGO_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)
STREET_MAX, CITY_MAX = 300, 100
_PHONE_NOISE = re.compile(r"[\s.\-/()]")
#: Overseas departments dial ``+262 262…``; at home the same number reads ``0262…``.
_OVERSEAS_CODES = ("262", "590", "594", "596")
PHONE_INVALID = (
    "Numéro de téléphone invalide : 10 chiffres commençant par 0 attendus, "
    "par exemple 02 33 57 46 61."
)


@dataclass(frozen=True)
class Details:
    """The editable details, normalised."""

    street: str
    postal_code: str
    city: str
    phone: str


@dataclass(frozen=True)
class Logo:
    """An uploaded logo whose content is a PNG or a JPEG image."""

    content: bytes
    content_type: str
    extension: str


def space_case(session: Session, coop_id: int) -> Case | None:
    """The coop's latest ``space_check`` case, if it has started."""
    return session.scalars(
        select(Case)
        .where(Case.coop_id == coop_id, Case.process == PROCESS)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    ).first()


def current_logo(session: Session, coop_id: int) -> Document | None:
    return session.scalars(
        select(Document)
        .where(Document.coop_id == coop_id, Document.kind == LOGO_KIND)
        .order_by(Document.id.desc())
        .limit(1)
    ).first()


def _account(session: Session, coop_id: int) -> list[str] | None:
    account = certified_account(session, coop_id)
    return [account.iban, account.bic, account.holder] if account else None


def fingerprint(session: Session, coop: Coop) -> str:
    """A digest of everything the page shows: « Tout est correct » certifies what the
    mandataire saw, so a change made since (another tab, the AD's team) is caught."""
    logo = current_logo(session, coop.id)
    shown = {
        "coop": [
            coop.name,
            coop.affiliation_number,
            coop.school_name,
            coop.street,
            coop.postal_code,
            coop.city,
            coop.school_email,
            coop.phone,
            coop.ad.name,
            coop.ad.code,
        ],
        "administrators": [[m.full_name, m.email] for m in with_account(session, coop.id)],
        "logo": logo.sha256 if logo else None,
        "bank_account": _account(session, coop.id),
    }
    return hashlib.sha256(json.dumps(shown, ensure_ascii=False).encode()).hexdigest()[:32]


def address_line(street: str, postal_code: str, city: str) -> str:
    return ", ".join(p for p in (street, f"{postal_code} {city}".strip()) if p)


# Checking what was typed ----------------------------------------------------------------


def normalise_phone(raw: str) -> str:
    """``+33 2 33 57 46 61``, ``02.33.57.46.61``… → ``02 33 57 46 61``; ``ValueError``
    with the French reason when it is not a French number."""
    digits = _PHONE_NOISE.sub("", raw.replace("(0)", ""))
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+33"):
        digits = "0" + digits[3:]
    elif digits.startswith("+") and digits[1:4] in _OVERSEAS_CODES:
        digits = "0" + digits[4:]
    if not re.fullmatch(r"0[1-9][0-9]{8}", digits):  # ASCII: not « ٠٤ ٩٣ … »
        raise ValueError(PHONE_INVALID)
    return " ".join(digits[i : i + 2] for i in range(0, 10, 2))


def clean_details(
    street: str, postal_code: str, city: str, phone: str
) -> tuple[Details, dict[str, str]]:
    """The normalised details and, per field name, the French reason it is refused."""
    street = " ".join(street.split())
    postal_code = "".join(postal_code.split())
    city = " ".join(city.split())
    phone = phone.strip()
    errors: dict[str, str] = {}
    if street or postal_code or city:
        if not street:
            errors["street"] = "Indiquez le numéro et la rue (ou effacez aussi la commune)."
        if not postal_code:
            errors["postal_code"] = "Indiquez le code postal."
        if not city:
            errors["city"] = "Indiquez la commune."
    if len(street) > STREET_MAX:
        errors["street"] = f"Adresse trop longue ({STREET_MAX} caractères au plus)."
    if postal_code and not POSTAL_CODE.fullmatch(postal_code):
        errors["postal_code"] = (
            f"Code postal « {postal_code} » invalide : 5 chiffres attendus, par exemple 50000."
        )
    if len(city) > CITY_MAX:
        errors["city"] = f"Nom de commune trop long ({CITY_MAX} caractères au plus)."
    if phone:
        try:
            phone = normalise_phone(phone)
        except ValueError as exc:
            errors["phone"] = str(exc)
    return Details(street, postal_code, city, phone), errors


def check_logo(content: bytes) -> Logo:
    """The logo if ``content`` is a PNG or JPEG image of at most 1 Mo; else
    ``ValueError`` with the French reason."""
    if not content:
        raise ValueError("Le fichier envoyé est vide.")
    if len(content) > LOGO_MAX_BYTES:
        raise ValueError(
            f"Le logo est trop lourd ({_megabytes(len(content))}) : 1 Mo au plus. "
            "Réduisez l'image ou choisissez-en une autre."
        )
    for signature, content_type, extension in _LOGO_SIGNATURES:
        if content.startswith(signature):
            return Logo(content, content_type, extension)
    raise ValueError(
        "Ce fichier n'est pas une image PNG ou JPEG (son contenu a été vérifié, pas "
        "seulement son nom). Choisissez une image PNG ou JPEG."
    )


def _megabytes(size: int) -> str:
    return f"{size / LOGO_MAX_BYTES:.1f} Mo".replace(".", ",")


# Writing --------------------------------------------------------------------------------


def save_details(
    tx: UnitOfWork,
    case: Case,
    coop: Coop,
    actor: Actor,
    details: Details,
    logo: Logo | None,
) -> list[str]:
    """Write what changed, each change audited on ``case``; the changes, in French."""
    changes: list[str] = []
    before = address_line(coop.street, coop.postal_code, coop.city)
    after = address_line(details.street, details.postal_code, details.city)
    if (coop.street, coop.postal_code, coop.city) != (
        details.street,
        details.postal_code,
        details.city,
    ):
        coop.street, coop.postal_code, coop.city = (
            details.street,
            details.postal_code,
            details.city,
        )
        tx.comment(
            case, actor, f"Adresse modifiée : « {before or 'vide'} » → « {after or 'vide'} »."
        )
        changes.append("l'adresse")
    if coop.phone != details.phone:
        tx.comment(
            case,
            actor,
            f"Téléphone modifié : « {coop.phone or 'vide'} » → « {details.phone or 'vide'} ».",
        )
        coop.phone = details.phone
        changes.append("le téléphone")
    if logo is not None:
        _replace_logo(tx, case, coop, actor, logo)
        changes.append("le logo")
    return changes


def _replace_logo(tx: UnitOfWork, case: Case, coop: Coop, actor: Actor, logo: Logo) -> None:
    replaced = current_logo(tx.session, coop.id) is not None
    tx.session.execute(
        delete(Document)
        .where(Document.coop_id == coop.id, Document.kind == LOGO_KIND)
        .execution_options(synchronize_session=False)
    )
    digest = hashlib.sha256(logo.content).hexdigest()
    tx.session.add(
        Document(
            idempotency_key=f"{LOGO_KIND}.{coop.id}.{uuid.uuid4().hex}",
            coop_id=coop.id,
            case_id=case.id,
            kind=LOGO_KIND,
            title="Logo de la coopérative",
            filename=f"logo.{logo.extension}",
            content_type=logo.content_type,
            content=logo.content,
            sha256=digest,
            size=len(logo.content),
            created_at=tx.now,
        )
    )
    what = "remplacé" if replaced else "ajouté"
    kind = logo.extension.upper().replace("JPG", "JPEG")
    tx.comment(
        case,
        actor,
        f"Logo {what} : image {kind} de {max(1, round(len(logo.content) / 1024))} Ko "
        f"(sha256 {digest[:12]}).",
    )
