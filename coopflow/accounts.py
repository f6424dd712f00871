"""Creating back-office accounts (CLI and demo data)."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from workflows.engine import Engine
from workflows.models import AD, StaffRole, StaffUser
from workflows.passwords import Person, check_password
from workflows.security import hash_password

STAFF_PASSWORD_MINIMUM = 12


def create_staff(
    engine: Engine, *, email: str, full_name: str, role: str, ad_code: str | None, password: str
) -> StaffUser:
    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"Adresse email invalide : {exc}") from exc
    if role not in {r.value for r in StaffRole}:
        raise ValueError(f"Rôle inconnu : {role}")
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
            created_at=tx.now,
        )
        tx.session.add(user)
    return user
