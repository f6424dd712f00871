"""« Configuration du mot de passe »: the page behind the invitation link."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from web.forms import PasswordSetupForm, refused_password
from web.runtime import runtime
from web.submissions import PASSWORD_FIELDS, Submission, link_owner, same_password
from workflows.engine.engine import Actor
from workflows.engine.errors import ConflictError
from workflows.links import TokenInvalid
from workflows.mandataires import set_password_with_link
from workflows.models import Mandataire, Token
from workflows.password_hashing import hash_password
from workflows.processes.invitation.definition import INVITED, PASSWORD_SET
from workflows.processes.invitation.password_rules import requirements

bp = Blueprint("invitation", __name__)

#: The page of each state where the mandataire acts: the emailed link, then the login.
PAGES = {INVITED: "invitation.setup_password", PASSWORD_SET: "auth.login"}

PURPOSE = "invitation"
SAVED = (
    "Votre mot de passe est enregistré. Connectez-vous avec votre adresse email et ce mot de passe."
)


def _page(form: PasswordSetupForm, mandataire: Mandataire, errors: list[str], status: int = 200):  # type: ignore[no-untyped-def]
    minimum = mandataire.coop.ad.password_min_length
    return (
        render_template(
            "portal/invitation/password_setup.html",
            form=form,
            mandataire=mandataire,
            rules=requirements(minimum),
            errors=errors,
        ),
        status,
    )


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def setup_password(token: str):  # type: ignore[no-untyped-def]
    rt = runtime()
    # A second click is not « lien déjà utilisé », when it is the same password.
    once = Submission(link_owner(token), secret=PASSWORD_FIELDS)
    with rt.db.read() as session:
        if once.earlier(session, same_password):
            return once.replay()
        try:
            found = rt.links.resolve(
                session, token, purpose=PURPOSE, now=rt.engine.clock.now(), lock=False
            )
        except TokenInvalid as exc:
            return render_template("portal/invitation/link_invalid.html", message=str(exc)), 410
        mandataire, case_id = found.mandataire, found.case_id

    form = PasswordSetupForm()
    if refused := refused_password(form, mandataire):
        return _page(form, mandataire, *refused)

    password_hash = hash_password(form.password.data or "")
    login = url_for("auth.login", email=mandataire.email)
    try:
        with rt.engine.transaction() as tx:
            if once.claim(tx.session):
                if case_id is None:
                    raise TokenInvalid("Ce lien n'est rattaché à aucune invitation.")
                # The case first, then the token: the lock order of the engine and steps.
                tx.lock(case_id)
                live: Token = rt.links.resolve(tx.session, token, purpose=PURPOSE, now=tx.now)
                row = set_password_with_link(tx.session, live, password_hash, now=tx.now)
                tx.fire(case_id, "set_password", actor=Actor.mandataire(row))
                once.done(tx.session, login, flashes=[("success", SAVED)], mandataire=row.id)
    except (TokenInvalid, ConflictError) as exc:
        return render_template("portal/invitation/link_invalid.html", message=str(exc)), 409
    if once.replayed:
        return once.replay()
    flash(SAVED, "success")
    return redirect(login)
