"""Who is logged in: mandataires (portal) and staff (back-office), in separate roles.

Flask-Login stores ``m:<id>:<stamp>`` or ``s:<id>``; a staff session is never a
mandataire session and the other way round. Sessions live in the signed cookie, so
nothing on the server can end them: the ``stamp`` (a keyed digest of the password
hash) is what ends them. A new password (« Mot de passe perdu ? ») changes it, and
every session opened with the old one, in any browser, is anonymous again at its next
request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, redirect, request, url_for
from flask_login import UserMixin, current_user
from sqlalchemy import select

from web.extensions import login_manager
from web.guards import MAX_ID
from web.runtime import runtime
from workflows.models import Mandataire, StaffRole, StaffUser, Token

#: Tokens of this purpose, once used, mean the password changed (``web/portal/password_reset.py``).
RESET_PURPOSE = "reset"


@dataclass(frozen=True)
class MandatairePrincipal(UserMixin):
    id: int
    coop_id: int
    email: str
    full_name: str
    kind: str = "mandataire"
    #: Changes with the password: see :func:`password_stamp`.
    stamp: str = field(default="", repr=False)

    def get_id(self) -> str:
        return f"m:{self.id}:{self.stamp}"


@dataclass(frozen=True)
class StaffPrincipal(UserMixin):
    id: int
    email: str
    full_name: str
    role: str
    ad_id: int | None
    kind: str = "staff"

    def get_id(self) -> str:
        return f"s:{self.id}"

    @property
    def is_national(self) -> bool:
        return self.role == StaffRole.NATIONAL.value

    @property
    def can_act(self) -> bool:
        return self.role != StaffRole.READONLY.value


def password_stamp(password_hash: str | None) -> str:
    """A short keyed digest of the password hash, kept in the session: it changes with
    the password and reveals nothing about it."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, (password_hash or "").encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def principal_for(user: Mandataire | StaffUser) -> MandatairePrincipal | StaffPrincipal:
    if isinstance(user, Mandataire):
        return MandatairePrincipal(
            user.id,
            user.coop_id,
            user.email,
            user.full_name,
            stamp=password_stamp(user.password_hash),
        )
    return StaffPrincipal(user.id, user.email, user.full_name, user.role, user.ad_id)


@login_manager.user_loader
def load_user(user_id: str) -> MandatairePrincipal | StaffPrincipal | None:
    kind, _, rest = user_id.partition(":")
    raw, has_stamp, stamp = rest.partition(":")
    # ASCII digits of an id a row can have (``str.isdigit`` also takes « ² » or « ٣ »,
    # which ``int`` refuses: the session is signed, but a 500 is no answer).
    if not (raw.isascii() and raw.isdigit() and int(raw) <= MAX_ID):
        return None
    with runtime().db.read() as session:
        if kind == "m":
            mandataire = session.get(Mandataire, int(raw))
            if mandataire is None or mandataire.password_hash is None:
                return None
            principal = principal_for(mandataire)
            assert isinstance(principal, MandatairePrincipal)
            if has_stamp:
                return principal if hmac.compare_digest(stamp, principal.stamp) else None
            # ``m:<id>`` without a stamp: a session opened before stamps existed. It
            # ends once the mandataire has chosen a new password through a reset link.
            reset = session.scalar(
                select(Token.id)
                .where(
                    Token.mandataire_id == mandataire.id,
                    Token.purpose == RESET_PURPOSE,
                    Token.used_at.is_not(None),
                )
                .limit(1)
            )
            return principal if reset is None else None
        if kind == "s":
            staff = session.get(StaffUser, int(raw))
            return principal_for(staff) if staff is not None and staff.is_active else None
    return None


F = TypeVar("F", bound=Callable[..., Any])


def mandataire_required(view: F) -> F:
    """Portal pages: a logged-in mandataire only (a staff session is refused)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        if getattr(current_user, "kind", None) != "mandataire":
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def current_staff() -> StaffPrincipal | None:
    user = current_user
    if user.is_authenticated and getattr(user, "kind", None) == "staff":
        return user  # type: ignore[return-value]
    return None
