"""Who is logged in: mandataires (portal) and staff (back-office), in separate roles.

Flask-Login stores ``m:<id>:<stamp>`` or ``s:<id>:<stamp>``; a staff session is never a
mandataire session and the other way round. Sessions live in the signed cookie, so
nothing on the server can end them: the ``stamp`` (a keyed digest of the password hash
and of the account's ``session_version``) is what ends them. A new password (« Mot de
passe perdu ? », a staff password changed) or a cancelled invitation (the version is
raised) changes it, and every session opened before, in any browser, is anonymous again
at its next request. A staff session also ends after ``staff_idle_minutes`` without a
request (:func:`init_app`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app, flash, redirect, request, session, url_for
from flask_login import UserMixin, current_user, logout_user
from sqlalchemy import select

from web import kept_forms
from web.extensions import login_manager
from web.guards import MAX_ID
from web.runtime import runtime
from workflows.mandataires import has_account
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
    #: ``president`` or ``treasurer`` of their AD (``OfficerRole``): they review advances.
    officer_role: str | None = None
    #: Changes with the password: see :func:`password_stamp`.
    stamp: str = field(default="", repr=False)

    def get_id(self) -> str:
        return f"s:{self.id}:{self.stamp}"

    @property
    def is_national(self) -> bool:
        return self.role == StaffRole.NATIONAL.value

    @property
    def can_act(self) -> bool:
        return self.role != StaffRole.READONLY.value

    @property
    def is_officer(self) -> bool:
        """The AD's president or treasurer, who alone review emergency advances."""
        return self.officer_role is not None and self.can_act


def password_stamp(password_hash: str | None, session_version: int = 0) -> str:
    """A short keyed digest of the password hash and the session version, kept in the
    session: it changes with either and reveals nothing. (Version 0 digests the hash
    alone: the stamps of sessions opened before versions existed stay valid.)"""
    key = str(current_app.config["SECRET_KEY"]).encode()
    material = password_hash or ""
    if session_version:
        material += f"#{session_version}"
    digest = hmac.new(key, material.encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def principal_for(user: Mandataire | StaffUser) -> MandatairePrincipal | StaffPrincipal:
    stamp = password_stamp(user.password_hash, user.session_version or 0)
    if isinstance(user, Mandataire):
        return MandatairePrincipal(user.id, user.coop_id, user.email, user.full_name, stamp=stamp)
    return StaffPrincipal(
        user.id,
        user.email,
        user.full_name,
        user.role,
        user.ad_id,
        officer_role=user.officer_role,
        stamp=stamp,
    )


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
            if mandataire is None or not has_account(mandataire):
                return None
            principal = principal_for(mandataire)
            assert isinstance(principal, MandatairePrincipal)
            if has_stamp:
                return principal if hmac.compare_digest(stamp, principal.stamp) else None
            if mandataire.session_version:
                return None  # its sessions were ended since
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
            if staff is None or not staff.is_active:
                return None
            found = principal_for(staff)
            # A staff session without a stamp predates them: it ends (log in again).
            return found if hmac.compare_digest(stamp, found.stamp) else None
    return None


#: Where a staff session's last request is kept (seconds since the epoch).
STAFF_SEEN = "staff_seen"
#: Told on the login page when a staff session ended by itself.
STAFF_IDLE_ENDED = (
    "Votre session a pris fin après {minutes}\u00a0minutes sans activité\u00a0: reconnectez-vous."
)


def init_app(app: Flask, *, staff_idle_minutes: float) -> None:
    """End a staff session idle for ``staff_idle_minutes``: the request goes on
    anonymous (the back-office sends it to its login page)."""
    idle = staff_idle_minutes * 60

    @app.before_request
    def end_idle_staff_session():  # type: ignore[no-untyped-def]
        user_id = session.get("_user_id")
        if not isinstance(user_id, str) or not user_id.startswith("s:"):
            return None
        now = time.time()
        seen = session.get(STAFF_SEEN)
        if isinstance(seen, int | float) and now - seen > idle:
            logout_user()
            session.pop(STAFF_SEEN, None)
            if request.method in ("GET", "HEAD"):  # a posted form says it itself
                flash(STAFF_IDLE_ENDED.format(minutes=f"{staff_idle_minutes:g}"), "info")
            return None
        if not isinstance(seen, int | float) or now - seen >= min(30.0, idle / 10):
            session[STAFF_SEEN] = int(now)  # not every request: the cookie changes less
        return None


F = TypeVar("F", bound=Callable[..., Any])


def mandataire_required(view: F) -> F:
    """Portal pages: a logged-in mandataire only (a staff session is refused)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return to_login("auth.login", home=url_for("portal.home"))
        if getattr(current_user, "kind", None) != "mandataire":
            abort(403)
        return view(*args, **kwargs)

    wrapped.mandataire_only = True  # type: ignore[attr-defined]  # read by the CSRF handler
    return wrapped  # type: ignore[return-value]


def to_login(login: str, *, home: str, under: str = "/") -> Any:
    """Send an anonymous request to the ``login`` page, then back: to the page itself
    (a GET), or, for a posted form, to the page the form was on, its text kept."""
    if request.method in ("GET", "HEAD"):
        return redirect(url_for(login, next=request.full_path.rstrip("?")))
    page = kept_forms.page_of_form(home, under=under)
    kept = kept_forms.keep(page)
    flash(kept_forms.SESSION_ENDED_KEPT if kept else kept_forms.SESSION_ENDED, "info")
    return redirect(url_for(login, next=page))


def current_staff() -> StaffPrincipal | None:
    user = current_user
    if user.is_authenticated and getattr(user, "kind", None) == "staff":
        return user  # type: ignore[return-value]
    return None
