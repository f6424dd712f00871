"""The mandataire's space. (The full onboarding checklist comes with the portal issue.)"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from web.auth import mandataire_required
from web.runtime import runtime
from workflows.models import Case, Coop

bp = Blueprint("portal", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    if getattr(current_user, "kind", None) == "staff":
        return redirect("/admin/")
    return redirect(url_for("portal.home"))


@bp.get("/mon-espace")
@mandataire_required
def home():  # type: ignore[no-untyped-def]
    rt = runtime()
    with rt.db.read() as session:
        coop = session.get(Coop, current_user.coop_id)
        cases = session.scalars(
            select(Case).where(Case.coop_id == current_user.coop_id).order_by(Case.id)
        ).all()
        rows = [
            (rt.engine.definition(c.process).title, rt.engine.definition(c.process).label(c.state))
            for c in cases
        ]
        return render_template("portal/home.html", coop=coop, rows=rows)
