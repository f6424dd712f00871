"""« Configuration du mot de passe »: the page behind the invitation link."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from web.password_link import LinkFlow, choose_password
from web.runtime import runtime
from workflows.engine.engine import Actor, UnitOfWork
from workflows.models import Case, Mandataire, Token
from workflows.processes.invitation.definition import INVITED, PASSWORD_SET

bp = Blueprint("invitation", __name__)

#: The page of each state where the mandataire acts: the emailed link, then the login.
PAGES = {INVITED: "invitation.setup_password", PASSWORD_SET: "auth.login"}

PURPOSE = "invitation"
SAVED = (
    "Votre mot de passe est enregistré. Connectez-vous avec votre adresse email et ce mot de passe."
)


def _resolve(session: Session, raw: str, now: datetime, lock: bool) -> Token:
    return runtime().links.resolve(session, raw, purpose=PURPOSE, now=now, lock=lock)


def _set_password(tx: UnitOfWork, case: Case | None, row: Mandataire) -> None:
    assert case is not None  # LinkFlow.case_required
    tx.fire(case.id, "set_password", actor=Actor.mandataire(row))


FLOW = LinkFlow(
    resolve=_resolve,
    templates="portal/invitation",
    saved=SAVED,
    then=_set_password,
    case_required=True,
    gone_status=409,
)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def setup_password(token: str) -> ResponseReturnValue:
    return choose_password(token, FLOW)
