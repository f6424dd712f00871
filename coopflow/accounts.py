"""Creating ADs and back-office accounts (CLI and demo data)."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from workflows.engine.engine import Engine
from workflows.models import AD, OfficerRole, StaffRole, StaffUser
from workflows.password_hashing import hash_password
from workflows.processes.invitation.password_rules import Person, check_password

STAFF_PASSWORD_MINIMUM = 12

#: ``AD06``, ``AD2A``, ``AD974``: the code of an association départementale.
AD_CODE = re.compile(r"^AD[0-9][0-9AB][0-9]?$")
#: An academy's mail domain, as the rectorats name them (``ac-nice.fr``).
ACADEMIC_DOMAIN = re.compile(r"^ac-[a-z0-9-]+\.fr$")


def save_ad(
    engine: Engine,
    *,
    code: str,
    name: str,
    email: str,
    domains: list[str],
    phone: str = "",
    address: str = "",
    validity_days: int = 7,
) -> tuple[AD, bool]:
    """Create the AD ``code``, or update it when it exists; ``(ad, created)``."""
    code = code.strip().upper()
    errors = []
    if not AD_CODE.match(code):
        errors.append(f"Code d'AD invalide : « {code} » (attendu : AD suivi du département, AD06).")
    if not name.strip():
        errors.append("Le nom de l'AD est obligatoire.")
    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        errors.append(f"Adresse email de l'AD invalide : « {email} ».")
    domains = sorted({d.strip().lower() for d in domains if d.strip()})
    if not domains:
        errors.append("Au moins un domaine académique est obligatoire (ac-nice.fr).")
    errors += [
        f"Domaine académique invalide : « {d} » (attendu : ac-….fr)."
        for d in domains
        if not ACADEMIC_DOMAIN.match(d)
    ]
    if not 1 <= validity_days <= 30:
        errors.append("La validité des invitations doit être comprise entre 1 et 30 jours.")
    if errors:
        raise ValueError(" ".join(errors))
    with engine.transaction() as tx:
        ad = tx.session.scalars(select(AD).where(AD.code == code)).one_or_none()
        created = ad is None
        if ad is None:
            ad = AD(code=code, created_at=tx.now)
            tx.session.add(ad)
        ad.name = name.strip()
        ad.email = email
        ad.academic_domains = domains
        ad.phone = phone.strip()
        ad.address = address.strip()
        ad.invitation_validity_days = validity_days
    return ad, created


def create_staff(
    engine: Engine,
    *,
    email: str,
    full_name: str,
    role: str,
    ad_code: str | None,
    password: str,
    officer_role: str | None = None,
) -> StaffUser:
    """A back-office account; ``officer_role`` (``president``, ``treasurer``) for an
    officer of its AD, who alone reviews emergency advances."""
    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"Adresse email invalide : {exc}") from exc
    if role not in {r.value for r in StaffRole}:
        raise ValueError(f"Rôle inconnu : {role}")
    if officer_role is not None and (
        officer_role not in {r.value for r in OfficerRole} or role != StaffRole.AD.value
    ):
        raise ValueError(f"Rôle d'élu inconnu ou hors d'une AD : {officer_role}")
    errors = check_password(password, Person("", full_name, email), minimum=STAFF_PASSWORD_MINIMUM)
    if errors:
        raise ValueError(" ".join(errors))
    with engine.transaction() as tx:
        ad = None
        if role != StaffRole.NATIONAL.value:
            if not ad_code:
                raise ValueError("Un compte d'AD doit préciser son AD (--ad).")
            ad = tx.session.scalars(select(AD).where(AD.code == ad_code.upper())).one_or_none()
            if ad is None:
                raise ValueError(f"AD inconnue : {ad_code}")
        if tx.session.scalars(select(StaffUser).where(StaffUser.email == email)).first():
            raise ValueError(f"Un compte existe déjà pour {email}.")
        user = StaffUser(
            email=email,
            full_name=full_name,
            role=role,
            ad_id=ad.id if ad else None,
            password_hash=hash_password(password),
            officer_role=officer_role,
            created_at=tx.now,
        )
        tx.session.add(user)
    return user
