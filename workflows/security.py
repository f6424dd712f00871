"""Password hashing (argon2id) and the signed single-use links of emails."""

from __future__ import annotations

import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import update
from sqlalchemy.orm import Session

from workflows.errors import CoopflowError
from workflows.models import Token, table

#: argon2id, RFC 9106 second recommendation: t=3, m=64 MiB, p=4.
hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)

#: Hashed once so a login with an unknown email costs the same time as a wrong password.
_DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class TokenInvalid(CoopflowError):
    """The link cannot be used; the message tells the mandataire why, in French."""


def revoke_links(session: Session, *, mandataire_id: int, purpose: str, now: datetime) -> None:
    """Make every unused link of this purpose for this person unusable."""
    tokens = table(Token).c  # a Core statement: this runs for every invitation sent
    session.execute(
        update(table(Token))
        .where(
            tokens.mandataire_id == mandataire_id,
            tokens.purpose == purpose,
            tokens.used_at.is_(None),
            tokens.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


class Links:
    """Issues and checks the links sent by email: a signed ``(id, nonce)``, whose row
    says whether it is still usable. Reminders resend the same link."""

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret_key, salt=f"coopflow.{purpose}")

    def issue(
        self,
        session: Session,
        *,
        purpose: str,
        mandataire_id: int,
        case_id: int | None,
        now: datetime,
        expires_at: datetime,
    ) -> Token:
        """A new link; earlier ones of the same purpose for this person stop working."""
        revoke_links(session, mandataire_id=mandataire_id, purpose=purpose, now=now)
        token = Token(
            purpose=purpose,
            nonce=secrets.token_urlsafe(24),
            mandataire_id=mandataire_id,
            case_id=case_id,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(token)
        session.flush()
        return token

    def dumps(self, token: Token) -> str:
        return str(self._serializer(token.purpose).dumps([token.id, token.nonce]))

    def resolve(
        self, session: Session, raw: str, *, purpose: str, now: datetime, lock: bool = True
    ) -> Token:
        """The usable token behind ``raw`` (row-locked when ``lock``); else
        :class:`TokenInvalid` with the reason in French."""
        try:
            token_id, nonce = self._serializer(purpose).loads(raw)
        except (BadSignature, ValueError, TypeError):
            raise TokenInvalid("Ce lien n'est pas valide. Vérifiez qu'il est complet.") from None
        token = session.get(
            Token,
            int(token_id),
            with_for_update={"of": Token} if lock else None,
            populate_existing=True,
        )
        if (
            token is None
            or token.purpose != purpose
            or not secrets.compare_digest(token.nonce, str(nonce))
        ):
            raise TokenInvalid("Ce lien n'est pas valide. Vérifiez qu'il est complet.")
        if token.used_at is not None:
            raise TokenInvalid(
                "Ce lien a déjà été utilisé. Connectez-vous avec votre mot de passe."
            )
        if token.revoked_at is not None:
            raise TokenInvalid(
                "Ce lien a été remplacé par un envoi plus récent : utilisez le dernier email reçu."
            )
        if token.expires_at <= now:
            raise TokenInvalid(
                "Ce lien a expiré. Contactez votre association départementale "
                "pour en recevoir un nouveau."
            )
        return token
