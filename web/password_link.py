"""A password chosen with an emailed link: the invitation's « Configuration du mot de
passe » and « Mot de passe perdu » run the same page, each with its own link, templates
and consequence for its case (:class:`LinkFlow`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from web.forms import PasswordSetupForm, refused_password
from web.runtime import runtime
from web.submissions import PASSWORD_FIELDS, Submission, link_owner, same_password
from workflows.engine.engine import UnitOfWork
from workflows.engine.errors import ConflictError
from workflows.links import TokenInvalid
from workflows.mandataires import set_password_with_link
from workflows.models import Case, Mandataire, Token
from workflows.password_hashing import hash_password
from workflows.processes.invitation.password_rules import requirements


@dataclass(frozen=True)
class LinkFlow:
    #: The usable token behind the link (``lock``: in the transaction that uses it).
    resolve: Callable[[Session, str, datetime, bool], Token]
    #: The folder of its templates: the form ``password.html``, the page of a link that
    #: cannot be used ``link_invalid.html``.
    templates: str
    #: Said on the login page the new password leads to.
    saved: str
    #: What the new password does to the link's case (``None``: a link without one).
    then: Callable[[UnitOfWork, Case | None, Mandataire], None]
    #: The link's case is locked first (the engine's lock order); without one, refused.
    case_required: bool = False
    #: The status of a link found unusable at the moment of saving.
    gone_status: int = 410


def choose_password(token: str, flow: LinkFlow) -> ResponseReturnValue:
    """The page behind ``token``: the form, then the password saved once."""
    rt = runtime()
    # A second click is not « lien déjà utilisé », when it is the same password.
    once = Submission(link_owner(token), secret=PASSWORD_FIELDS)
    with rt.db.read() as session:
        if once.earlier(session, same_password):
            return once.replay()
        try:
            found = flow.resolve(session, token, rt.engine.clock.now(), False)
        except TokenInvalid as exc:
            return _invalid(flow, str(exc), 410)
        mandataire, case_id = found.mandataire, found.case_id

    form = PasswordSetupForm()
    if refused := refused_password(form, mandataire):
        return page(flow, form, mandataire, *refused)

    password_hash = hash_password(form.password.data or "")
    login = url_for("auth.login", email=mandataire.email)
    try:
        with rt.engine.transaction() as tx:
            if once.claim(tx.session):
                if case_id is None and flow.case_required:
                    raise TokenInvalid("Ce lien n'est rattaché à aucune invitation.")
                # The case first, then the token: the lock order of the engine and steps.
                case = tx.lock(case_id) if case_id is not None else None
                live = flow.resolve(tx.session, token, tx.now, True)
                row = set_password_with_link(tx.session, live, password_hash, now=tx.now)
                flow.then(tx, case, row)
                once.done(tx.session, login, flashes=[("success", flow.saved)], mandataire=row.id)
    except (TokenInvalid, ConflictError) as exc:
        return _invalid(flow, str(exc), flow.gone_status)
    if once.replayed:
        return once.replay()
    flash(flow.saved, "success")
    return redirect(login)


def page(
    flow: LinkFlow, form: PasswordSetupForm, mandataire: Mandataire, errors: list[str], status: int
) -> ResponseReturnValue:
    rules = requirements(mandataire.coop.ad.password_min_length)
    html = render_template(
        f"{flow.templates}/password.html",
        form=form,
        mandataire=mandataire,
        rules=rules,
        errors=errors,
    )
    return html, status


def _invalid(flow: LinkFlow, message: str, status: int) -> ResponseReturnValue:
    return render_template(f"{flow.templates}/link_invalid.html", message=message), status
