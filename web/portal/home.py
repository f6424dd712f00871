"""``/mon-espace``: the mandataire's home, the onboarding checklist.

The portal's other pages are blueprints of their own, nested under this one by
:mod:`web.portal`. Security headers are set for every page outside the back-office by
:mod:`web.headers`.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from web.auth import mandataire_required
from web.portal.checklist import build, next_step
from web.runtime import runtime
from workflows.models import Coop

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
        if coop is None:
            return render_template("error.html", code=404, message="Coopérative introuvable."), 404
        lines = build(session, coop, rt.engine.definitions, rt.engine.clock.now())
        return render_template(
            "portal/home.html", coop=coop, lines=lines, next_line=next_step(lines)
        )
