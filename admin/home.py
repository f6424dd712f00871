"""The back-office's home, « Cas bloqués », and the staff login (separate from the
mandataires')."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import flash, redirect, request, session, url_for
from flask_admin import AdminIndexView, expose
from flask_login import login_user, logout_user
from sqlalchemy import func, select

from admin.access import StaffView, back_office_next, staff
from admin.case_list import list_context
from admin.queries import CaseFilters
from web import kept_forms
from web.auth import principal_for
from web.extensions import login_limits
from web.forms import LoginForm
from web.login import BAD_CREDENTIALS
from web.runtime import runtime
from workflows.models import StaffRole, StaffUser
from workflows.password_hashing import verify_password

ROLES = {
    StaffRole.NATIONAL.value: "national (toutes les AD)",
    StaffRole.AD.value: "équipe de l'AD",
    StaffRole.READONLY.value: "lecture seule",
}
#: Reachable without a staff session.
PUBLIC = frozenset({"login", "logout"})


class HomeView(StaffView, AdminIndexView):
    def __init__(self, session: Any) -> None:
        super().__init__(name="Cas bloqués", url="/admin")
        self.session = session

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        if name in PUBLIC:
            return None
        return super()._handle_view(name, **kwargs)

    @expose("/")
    def index(self) -> Any:
        """« Cas bloqués »: every stuck case in scope, oldest first, with its reason."""
        principal = staff()
        definitions = runtime().engine.definitions
        filters = replace(CaseFilters.from_args(request.args), bloques=True)
        context = list_context(
            self.session, principal, definitions, filters, endpoint="admin.index"
        )
        return self.render(
            "coopflow_admin/case_list.html",
            heading="Cas bloqués",
            definitions=definitions,
            role=ROLES.get(principal.role, principal.role),
            **context,
        )

    @expose("/connexion", methods=("GET", "POST"))
    @login_limits
    def login(self) -> Any:
        form = LoginForm()
        if not form.validate_on_submit():
            status = 422 if form.is_submitted() else 200
            return self.render("coopflow_admin/login.html", form=form), status
        rt = runtime()
        email = (form.email.data or "").strip().lower()
        with rt.db.read() as db:
            user = db.scalars(
                select(StaffUser).where(func.lower(StaffUser.email) == email)
            ).one_or_none()
            password_hash = user.password_hash if user is not None else None
        # Always verify (a dummy hash for unknown emails): the timing tells nothing.
        if not verify_password(password_hash, form.password.data or "") or not (
            user is not None and user.is_active
        ):
            form.password.errors.append(BAD_CREDENTIALS)
            return self.render("coopflow_admin/login.html", form=form), 401
        with rt.db.write() as db:
            row = db.get(StaffUser, user.id)
            assert row is not None
            row.last_login_at = rt.engine.clock.now()
            principal = principal_for(row)
        with kept_forms.kept_across():  # but the text of a form whose session had ended
            session.clear()  # nothing of an earlier session (a mandataire's) survives the login
        login_user(principal)
        return redirect(kept_forms.after_login(back_office_next(request.args.get("next"))))

    @expose("/deconnexion", methods=("POST",))
    def logout(self) -> Any:
        logout_user()
        flash("Vous êtes déconnecté.", "info")
        return redirect(url_for(".login"))
