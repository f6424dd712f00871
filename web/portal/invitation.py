"""« Configuration du mot de passe »: the page behind the invitation link."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from web.forms import PasswordSetupForm, refused_password
from web.runtime import runtime
from web.submissions import PASSWORD_FIELDS, Submission, link_owner, same_password
from workflows.engine.engine import Actor
from workflows.engine.errors import ConflictError
from workflows.links import TokenInvalid
from workflows.models import Case, Mandataire, Token
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
        mandataire = found.mandataire

    form = PasswordSetupForm()
    if refused := refused_password(form, mandataire):
        return _page(form, mandataire, *refused)

    password_hash = hash_password(form.password.data or "")
    login = url_for("auth.login", email=mandataire.email)
    try:
        with rt.engine.transaction() as tx:
            if once.claim(tx.session):
                live: Token = rt.links.resolve(tx.session, token, purpose=PURPOSE, now=tx.now)
                row = tx.session.get(Mandataire, live.mandataire_id)
                assert row is not None
                case = tx.session.get(Case, live.case_id) if live.case_id else None
                if case is None:
                    raise TokenInvalid("Ce lien n'est rattaché à aucune invitation.")
                tx.fire(case.id, "set_password", actor=Actor.mandataire(row))
                live.used_at = tx.now
                row.password_hash = password_hash
                row.password_set_at = tx.now
                once.done(tx.session, login, flashes=[("success", SAVED)], mandataire=row.id)
    except (TokenInvalid, ConflictError) as exc:
        return render_template("portal/invitation/link_invalid.html", message=str(exc)), 409
    if once.replayed:
        return once.replay()
    flash(SAVED, "success")
    return redirect(login)
