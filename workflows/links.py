"""The signed single-use links of emails (invitation, password reset): issued, resolved,
revoked; and the placeholder a stored email holds instead of one.

A stored email never holds a working link (the back-office shows emails, backups copy
them): it holds :meth:`Links.placeholder`, the token's row id, and the worker puts the
signed token in when it hands the message to the mail server (:meth:`Links.reveal`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from workflows.engine.errors import CoopflowError
from workflows.models import Token, table

_TOKENS = table(Token)

#: A link's token as stored in an email: its purpose and row id, nothing that opens it.
PLACEHOLDER = re.compile(r"\[lien:([a-z_]{1,20}):([0-9]{1,10})\]")
#: What staff read in place of a link they may not see (:func:`masked`).
MASKED = "[lien personnel masqué]"


def masked(text: str) -> str:
    """``text`` with every placeholder left in it masked."""
    return PLACEHOLDER.sub(MASKED, text)


class TokenInvalid(CoopflowError):
    """The link cannot be used; the message tells the mandataire why, in French."""


def revoke_links(session: Session, *, mandataire_id: int, purpose: str, now: datetime) -> None:
    """Make every unused link of this purpose for this person unusable."""
    revoke_links_of(session, mandataire_ids=[mandataire_id], purpose=purpose, now=now)


def revoke_links_of(
    session: Session, *, mandataire_ids: Collection[int], purpose: str, now: datetime
) -> None:
    """Make every unused link of this purpose for these people unusable."""
    tokens = _TOKENS.c  # a Core statement: this runs for every invitation sent
    session.execute(
        update(_TOKENS)
        .where(
            tokens.mandataire_id.in_(mandataire_ids),
            tokens.purpose == purpose,
            tokens.used_at.is_(None),
            tokens.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def revoke_every_link(session: Session, *, mandataire_id: int, now: datetime) -> None:
    """Make every unused link of this person unusable, whatever its purpose."""
    tokens = _TOKENS.c
    session.execute(
        update(_TOKENS)
        .where(
            tokens.mandataire_id == mandataire_id,
            tokens.used_at.is_(None),
            tokens.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


@dataclass(frozen=True)
class NewLink:
    """A link to issue: to whom, for which case, until when."""

    mandataire_id: int
    case_id: int | None
    expires_at: datetime


@dataclass(frozen=True)
class IssuedLink:
    """A link just issued (what :meth:`Links.dumps` signs, and its expiry)."""

    id: int
    purpose: str
    nonce: str
    expires_at: datetime


class Links:
    """Issues and checks the links sent by email: a signed ``(id, nonce)``, whose row
    says whether it is still usable. Reminders resend the same link."""

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        self._serializers: dict[str, URLSafeSerializer] = {}

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        serializer = self._serializers.get(purpose)
        if serializer is None:
            serializer = URLSafeSerializer(self.secret_key, salt=f"coopflow.{purpose}")
            self._serializers[purpose] = serializer
        return serializer

    def issue(
        self,
        session: Session,
        *,
        purpose: str,
        mandataire_id: int,
        case_id: int | None,
        now: datetime,
        expires_at: datetime,
    ) -> IssuedLink:
        """A new link; earlier ones of the same purpose for this person stop working."""
        (issued,) = self.issue_many(
            session, purpose=purpose, links=[NewLink(mandataire_id, case_id, expires_at)], now=now
        )
        return issued

    def issue_many(
        self, session: Session, *, purpose: str, links: list[NewLink], now: datetime
    ) -> list[IssuedLink]:
        """New links, in the order given, in two statements; earlier ones of the same
        purpose for these people stop working (and, for a person named twice, all but
        the last of these: as if issued one after the other)."""
        if not links:
            return []
        revoke_links_of(
            session, mandataire_ids={link.mandataire_id for link in links}, purpose=purpose, now=now
        )
        last = {link.mandataire_id: index for index, link in enumerate(links)}
        rows: list[dict[str, Any]] = [
            {
                "purpose": purpose,
                "nonce": secrets.token_urlsafe(24),
                "mandataire_id": link.mandataire_id,
                "case_id": link.case_id,
                "created_at": now,
                "expires_at": link.expires_at,
                "revoked_at": None if last[link.mandataire_id] == index else now,
            }
            for index, link in enumerate(links)
        ]
        ids = session.execute(
            insert(_TOKENS).returning(_TOKENS.c.id, sort_by_parameter_order=True), rows
        ).scalars()
        return [
            IssuedLink(token_id, purpose, row["nonce"], row["expires_at"])
            for row, token_id in zip(rows, ids, strict=True)
        ]

    def dumps(self, token: Token | IssuedLink) -> str:
        return str(self._serializer(token.purpose).dumps([token.id, token.nonce]))

    @staticmethod
    def placeholder(token: Token | IssuedLink) -> str:
        """What an email stores in place of :meth:`dumps`: see :meth:`reveal`."""
        return f"[lien:{token.purpose}:{token.id}]"

    def reveal(
        self, session: Session, texts: list[str], *, purposes: Collection[str] | None = None
    ) -> list[str]:
        """``texts`` with the signed token of each placeholder put in (one statement for
        all); only those of ``purposes`` when given. A placeholder whose row is gone, or
        not of the purpose it names, stays as it is."""
        wanted = {
            int(match[2])
            for text in texts
            for match in PLACEHOLDER.finditer(text)
            if purposes is None or match[1] in purposes
        }
        if not wanted:
            return list(texts)
        tokens = _TOKENS.c
        rows = session.execute(
            select(tokens.id, tokens.purpose, tokens.nonce).where(tokens.id.in_(wanted))
        )
        signed = {
            (row.purpose, row.id): str(self._serializer(row.purpose).dumps([row.id, row.nonce]))
            for row in rows
        }

        def put_in(match: re.Match[str]) -> str:
            return signed.get((match[1], int(match[2])), match[0])

        return [PLACEHOLDER.sub(put_in, text) for text in texts]

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
