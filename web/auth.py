"""Who is logged in: mandataires (portal) and staff (back-office), in separate roles.

Flask-Login stores ``m:<id>`` or ``s:<id>``; a staff session is never a mandataire
session and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import abort, redirect, request, url_for
from flask_login import UserMixin, current_user

from web.extensions import login_manager
from web.runtime import runtime
from workflows.models import Mandataire, StaffRole, StaffUser


@dataclass(frozen=True)
class MandatairePrincipal(UserMixin):
    id: int
    coop_id: int
    email: str
    full_name: str
    kind: str = "mandataire"

    def get_id(self) -> str:
        return f"m:{self.id}"


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


def principal_for(user: Mandataire | StaffUser) -> MandatairePrincipal | StaffPrincipal:
    if isinstance(user, Mandataire):
        return MandatairePrincipal(user.id, user.coop_id, user.email, user.full_name)
    return StaffPrincipal(user.id, user.email, user.full_name, user.role, user.ad_id)


@login_manager.user_loader
def load_user(user_id: str) -> MandatairePrincipal | StaffPrincipal | None:
    kind, _, raw = user_id.partition(":")
    if not raw.isdigit():
        return None
    with runtime().db.read() as session:
        if kind == "m":
            mandataire = session.get(Mandataire, int(raw))
            if mandataire is None or mandataire.password_hash is None:
                return None
            return principal_for(mandataire)
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
