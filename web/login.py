"""Mandataire login and logout. The first login makes the invitation ``active``."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_login import login_user, logout_user
from sqlalchemy import func, select

from web import kept_forms
from web.auth import principal_for
from web.extensions import login_limits
from web.forms import LoginForm, safe_next
from web.runtime import runtime
from workflows.engine.engine import Actor
from workflows.mandataires import has_account
from workflows.models import Case, Mandataire
from workflows.password_hashing import verify_password
from workflows.processes.invitation.definition import PASSWORD_SET
from workflows.processes.invitation.definition import PROCESS as INVITATION

bp = Blueprint("auth", __name__)

#: A wrong email or password, at the portal's login and at the back-office's.
BAD_CREDENTIALS = "Adresse email ou mot de passe incorrect."


@bp.route("/connexion", methods=["GET", "POST"])
@login_limits
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    if request.method == "GET" and request.args.get("email"):
        form.email.data = request.args["email"]
    if not form.validate_on_submit():
        return render_template("login.html", form=form), 422 if form.is_submitted() else 200

    rt = runtime()
    email = (form.email.data or "").strip().lower()
    with rt.db.read() as session:
        mandataire = session.scalars(
            select(Mandataire).where(func.lower(Mandataire.email) == email)
        ).one_or_none()
        live = mandataire is not None and has_account(mandataire)
        password_hash = mandataire.password_hash if mandataire is not None and live else None
    # Always verify (a dummy hash without an account): neither the answer nor its time
    # tells whether the address was invited, is not configured yet, or was cancelled.
    if not verify_password(password_hash, form.password.data or "") or not live:
        form.password.errors.append(BAD_CREDENTIALS)
        return render_template("login.html", form=form), 401
    assert mandataire is not None

    with rt.engine.transaction() as tx:
        row = tx.session.get(Mandataire, mandataire.id)
        assert row is not None
        row.last_login_at = tx.now
        case_id = tx.session.scalars(
            select(Case.id).where(
                Case.coop_id == row.coop_id,
                Case.process == INVITATION,
                Case.state == PASSWORD_SET,
                Case.data["mandataire_id"].as_integer() == row.id,
            )
        ).first()
        if case_id is not None:
            tx.fire(case_id, "first_login", actor=Actor.mandataire(row))
        principal = principal_for(row)
    with kept_forms.kept_across():
        flask_session.clear()  # nothing of an earlier session (a staff member's) survives the login
    login_user(principal)
    target = safe_next(request.args.get("next"), url_for("portal.home"))
    return redirect(kept_forms.after_login(target))


@bp.post("/deconnexion")
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))
