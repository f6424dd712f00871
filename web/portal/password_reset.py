"""« Mot de passe perdu ? »: a mandataire asks for a link by email, then chooses a new
password behind it.

The request page answers the same sentence whatever the address (known, unknown, or an
account whose password was never set), so it tells nobody who has an account. A known,
configured account gets an audited ``request_reset`` on its invitation case; the step
``send_password_reset`` emails a single-use link valid one hour, at most one email per
ten minutes (``workers/steps/invitation.py``). Choosing the new password ends every
session opened with the old one (see ``web/auth.py``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from web.auth import RESET_PURPOSE
from web.extensions import limiter
from web.forms import email_field
from web.password_link import LinkFlow
from web.password_link import choose_password as choose_with_link
from web.runtime import runtime
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import ConflictError
from workflows.links import TokenInvalid
from workflows.models import Case, Mandataire, Token
from workflows.processes.invitation.definition import ACTIVE, PASSWORD_SET
from workflows.processes.invitation.definition import PROCESS as INVITATION

log = logging.getLogger(__name__)

bp = Blueprint("password_reset", __name__)

#: The invitation states where the account has a password to replace.
CONFIGURED = (PASSWORD_SET, ACTIVE)

SENT = (
    "Si un compte existe pour cette adresse, un email vient de vous être envoyé avec un "
    "lien pour choisir un nouveau mot de passe. Ce lien ne sert qu'une fois et reste "
    "valable une heure. Pensez à regarder dans vos courriers indésirables."
)
TOO_MANY = (
    "Trop de demandes de réinitialisation du mot de passe. Réessayez dans une heure, "
    "ou contactez votre association départementale."
)
SAVED = (
    "Votre nouveau mot de passe est enregistré. Connectez-vous avec votre adresse "
    "email et ce mot de passe."
)
EXPIRED = "Ce lien a expiré : il n'est valable qu'une heure. Demandez-en un nouveau ci-dessous."
#: Earlier than any link: :func:`_resolve` checks the expiry itself (see there).
_BEFORE_ANY_LINK = datetime(2000, 1, 1, tzinfo=UTC)


class ResetRequestForm(FlaskForm):
    email = email_field(filters=[lambda value: value.strip() if value else value])


def _normalized(email: str | None) -> str:
    return (email or "").strip().lower()


def _address_key() -> str:
    """The per-address limit's key: the address asked for (the IP when there is none)."""
    email = _normalized(request.form.get("email"))
    return f"email:{email}" if email else f"ip:{get_remote_address()}"


@bp.errorhandler(429)
def too_many(_error: Exception):  # type: ignore[no-untyped-def]
    form = ResetRequestForm()
    return render_template("portal/password_reset/request.html", form=form, throttled=TOO_MANY), 429


@bp.route("/mot-de-passe-perdu", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
@limiter.limit("5 per hour", key_func=_address_key, methods=["POST"])
def request_link():  # type: ignore[no-untyped-def]
    form = ResetRequestForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("portal/password_reset/request.html", form=form), status
    _ask_for_link(_normalized(form.email.data))
    return render_template("portal/password_reset/sent.html", message=SENT)


def _ask_for_link(email: str) -> None:
    """Fire ``request_reset`` on the account's invitation case; nothing (and nothing
    different on screen) when there is no configured account for ``email``."""
    rt = runtime()
    try:
        with rt.engine.transaction() as tx:
            mandataire = tx.session.scalars(
                select(Mandataire).where(Mandataire.email == email)
            ).one_or_none()
            if mandataire is None or mandataire.password_hash is None:
                return
            case_id = tx.session.scalars(
                select(Case.id)
                .where(
                    Case.coop_id == mandataire.coop_id,
                    Case.process == INVITATION,
                    Case.state.in_(CONFIGURED),
                    Case.data["mandataire_id"].as_integer() == mandataire.id,
                )
                .order_by(Case.id.desc())
            ).first()
            if case_id is None:
                return
            # Whoever typed the address is not authenticated: the system acts for them.
            tx.fire(
                case_id,
                "request_reset",
                actor=Actor.system("formulaire « Mot de passe perdu »"),
                comment="Lien de réinitialisation demandé depuis la page de connexion.",
            )
            log.info(
                "password reset requested",
                extra={"case_id": case_id, "ip": get_remote_address()},
            )
    except ConflictError as exc:  # the case left those states in the meantime
        log.info("password reset not requested", extra={"reason": str(exc)})


def _resolve(session: Session, raw: str, now: datetime, lock: bool) -> Token:
    """The usable reset token behind ``raw``. The expiry is checked here rather than by
    ``Links.resolve``, whose message sends invitees to their AD: a reset link is simply
    asked for again."""
    token = runtime().links.resolve(
        session, raw, purpose=RESET_PURPOSE, now=_BEFORE_ANY_LINK, lock=lock
    )
    if token.expires_at <= now:
        raise TokenInvalid(EXPIRED)
    return token


def _comment(tx: UnitOfWork, case: Case | None, row: Mandataire) -> None:
    if case is not None:
        tx.record(
            case,
            Actor.mandataire(row),
            comment="Nouveau mot de passe choisi avec le lien « Mot de passe perdu ».",
            kind="comment",
        )


FLOW = LinkFlow(
    resolve=_resolve,
    templates="portal/password_reset",
    saved=SAVED,
    then=_comment,
)


@bp.route("/mot-de-passe-perdu/<token>", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def choose_password(token: str) -> ResponseReturnValue:
    return choose_with_link(token, FLOW)
