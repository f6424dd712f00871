"""Mandataire login and logout. The first login makes the invitation ``active``."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from sqlalchemy import select

from web.auth import principal_for
from web.extensions import limiter
from web.forms import LoginForm
from web.runtime import runtime
from workflows.engine.engine import Actor
from workflows.models import Case, Mandataire
from workflows.password_hashing import verify_password
from workflows.processes.invitation.definition import PASSWORD_SET
from workflows.processes.invitation.definition import PROCESS as INVITATION

bp = Blueprint("auth", __name__)

#: A wrong email or password, at the portal's login and at the back-office's.
BAD_CREDENTIALS = "Adresse email ou mot de passe incorrect."


def safe_next(target: str | None, default: str, *, under: str = "/") -> str:
    """``target`` if it is a path of this site under ``under``, else ``default``: a
    login never sends anyone to another site."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(under) or target.startswith("//"):
        return default
    return target


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"])
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
            select(Mandataire).where(Mandataire.email == email)
        ).one_or_none()
        password_hash = mandataire.password_hash if mandataire else None
    if not verify_password(password_hash, form.password.data or ""):
        if mandataire is not None and password_hash is None:
            form.email.errors.append(
                "Votre compte n'est pas encore configuré : ouvrez le lien reçu par email "
                "pour choisir votre mot de passe."
            )
        else:
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
    login_user(principal)
    return redirect(safe_next(request.args.get("next"), url_for("portal.home")))


@bp.post("/deconnexion")
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"))
