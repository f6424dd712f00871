"""The example's page: the document to sign, and « Signer »."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from web.auth import mandataire_required
from web.runtime import runtime
from workflows.engine.engine import Actor
from workflows.models import Case, Mandataire

bp = Blueprint("example", __name__, template_folder="templates")
PAGES = {"to_sign": "example.page"}


def _case(session) -> Case | None:  # type: ignore[no-untyped-def]
    return session.scalars(
        select(Case).where(Case.coop_id == current_user.coop_id, Case.process == "example")
    ).first()


@bp.get("/mon-espace/exemple")
@mandataire_required
def page():  # type: ignore[no-untyped-def]
    with runtime().db.read() as session:
        case = _case(session)
        return render_template("portal/example/page.html", case=case)


@bp.post("/mon-espace/exemple/signer")
@mandataire_required
def sign():  # type: ignore[no-untyped-def]
    rt = runtime()
    with rt.engine.transaction() as tx:
        case = _case(tx.session)
        me = tx.session.get(Mandataire, current_user.id)
        assert case is not None and me is not None
        tx.fire(case.id, "sign", actor=Actor.mandataire(me))
    return redirect(url_for("portal.home"))
