"""« Avance d'urgence » (seed 002): an advance of OCCE while the Banque Postale balance
is on its way, only for a trip or stay already committed.

A coop that may not ask reads why (:func:`eligibility_unmet`); one that may, and has
no advance under way, gets the request (:mod:`web.portal.advance_form`): taken, the
quote is stored and the case started with its request in one transaction, once
whatever the clicks or the tabs. The page then follows the case: under review, the
officer's reason when refused (and the form again), the contract to read and sign
(the full name typed, the consent ticked; time and IP recorded), the signed copy, the
disbursement and the repayment. No script (the portal's CSP): while a step works the
page reloads itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import Session

from web.auth import mandataire_required
from web.portal.advance_form import FIELDS, QUOTE_TOO_LARGE, AdvanceForm, Limits, SignatureForm
from web.portal.affiliation import the_ad
from web.portal.banque_postale_transfer import (
    case_document,
    grouped,
    latest_case,
    mandataire_actor,
    transfer_case,
)
from web.runtime import runtime
from web.submissions import Submission, mandataire_owner
from workflows.engine.engine import UnitOfWork
from workflows.engine.errors import ConflictError, TransitionNotAllowed
from workflows.formatting import date_fr, paris
from workflows.models import Case, Coop, Document, Mandataire
from workflows.processes.banque_postale_transfer.attestation import declared_cents
from workflows.processes.emergency_advance.definition import (
    APPROVED,
    AWAITING_SIGNATURE,
    DEFINITION,
    PROCESS,
    REQUESTED,
    SIGNED,
    eligibility_unmet,
)
from workflows.processes.iban.rib_checks import mask_iban
from workflows.processes.iban.submission import stored_upload

bp = Blueprint("emergency_advance", __name__)

#: The page of each state where the mandataire acts (checked at start: coopflow.house).
PAGES = {AWAITING_SIGNATURE: "portal.emergency_advance.page"}

#: Seconds between two reloads while a step works (reviewers told, contract rendered).
REFRESH = 3
#: The documents of an advance: the quote uploaded, the contract, its signed copy.
QUOTE = "advance_quote"
CONTRACT = "advance_contract"
SIGNED_CONTRACT = "advance_contract_signed"

REQUESTED_SAID = (
    "Votre demande d'avance est envoyée : le président ou le trésorier de votre AD va "
    "l'examiner. Vous recevrez un email dès qu'il aura décidé."
)
SIGNED_SAID = "Le contrat est signé : votre AD fait maintenant le virement de l'avance."
ALREADY_REQUESTED = (
    "Une demande d'avance de votre coopérative est déjà en cours : rien n'a été enregistré. "
    "La page ci-dessous dit où elle en est."
)
NOTHING_TO_SIGN = (
    "Il n'y a pas de contrat à signer pour le moment : rien n'a été enregistré. La page "
    "ci-dessous dit où en est votre avance."
)
CONTRACT_NOT_READY = (
    "Le contrat n'est pas encore prêt : rien n'a été signé. Réessayez dans quelques instants."
)


# Pages ------------------------------------------------------------------------------


@bp.get("/mon-espace/avance")
@mandataire_required
def page():  # type: ignore[no-untyped-def]
    return _page()


@bp.post("/mon-espace/avance")
@mandataire_required
def ask():  # type: ignore[no-untyped-def]
    """The request: refused next to its fields with nothing stored, or the quote stored
    and the case started with ``request`` in one transaction, once."""
    once = Submission(mandataire_owner(current_user.id))
    rt = runtime()
    now = rt.engine.clock.now()
    with rt.db.read() as session:
        if once.earlier(session):  # a second click: the first one's answer
            return once.replay()
        refused = _not_askable(session, current_user.coop_id, now)
        limits = _limits(session, current_user.coop_id, now)
    if refused is not None:
        return _page(409, conflict=refused)
    form = AdvanceForm()
    form.limits = limits
    if not form.validate_on_submit() or form.checked is None:
        return _page(422, form=form)

    def work(tx: UnitOfWork) -> tuple[str, str]:
        transfer = transfer_case(tx.session, current_user.coop_id)
        if transfer is not None:  # one request of the coop at a time (two tabs)
            tx.lock(transfer.id)
        if _open(advance_case(tx.session, current_user.coop_id)):
            raise TransitionNotAllowed(ALREADY_REQUESTED)
        actor = mandataire_actor(tx.session)
        quote = _stored_quote(tx, form)
        case = tx.start(
            PROCESS,
            current_user.coop_id,
            actor=actor,
            data={"request": _request_data(form, quote, actor.name, tx.now)},
            trigger="request",
        )
        tx.session.flush()
        quote.case_id = case.id
        return ("success", REQUESTED_SAID)

    try:
        return once.run(rt.engine, work, url_for(".page"))
    except ConflictError as exc:
        return _page(409, conflict=str(exc))


@bp.post("/mon-espace/avance/signer")
@mandataire_required
def sign():  # type: ignore[no-untyped-def]
    """The signature: the name and the consent checked, then kept in the case (name,
    consent, UTC time, IP) and ``sign`` fired with it, once."""
    once = Submission(mandataire_owner(current_user.id))
    rt = runtime()
    with rt.db.read() as session:
        if once.earlier(session):
            return once.replay()
        form = _signature_form(session)
    if not form.validate_on_submit() or form.signed_name is None:
        return _page(422, signature_form=form)
    signed_name = form.signed_name

    def work(tx: UnitOfWork) -> tuple[str, str]:
        found = advance_case(tx.session, current_user.coop_id)
        if found is None:
            raise TransitionNotAllowed(NOTHING_TO_SIGN)
        case = tx.lock(found.id)
        if case.state != AWAITING_SIGNATURE:
            raise TransitionNotAllowed(NOTHING_TO_SIGN)
        if case_document(tx.session, case, CONTRACT) is None:
            raise TransitionNotAllowed(CONTRACT_NOT_READY)
        signature = {
            "name": signed_name,
            "consent": True,
            "signed_at": tx.now.isoformat(),
            "ip": request.remote_addr or "",
        }
        case.data = {**(case.data or {}), "signature": signature}
        actor = mandataire_actor(tx.session)
        tx.fire(case.id, "sign", actor=actor, payload={"signature": signature})
        return ("success", SIGNED_SAID)

    try:
        return once.run(rt.engine, work, url_for(".page", _anchor="etat"))
    except ConflictError as exc:
        return _page(409, conflict=str(exc))


@bp.errorhandler(413)
def too_large(error: Exception):  # type: ignore[no-untyped-def]
    """A file past the site's limit cannot even be read: the form again, the reason
    next to the file (what was typed is lost with the request)."""
    form = AdvanceForm(formdata=None)
    form.quote.errors = [QUOTE_TOO_LARGE]
    return _page(413, form=form)


# Writing ----------------------------------------------------------------------------


def _stored_quote(tx: UnitOfWork, form: AdvanceForm) -> Document:
    """The quote or invoice, kept as a document of the coop (its case set once started)."""
    upload = form.checked
    assert upload is not None
    coop = tx.session.get(Coop, current_user.coop_id)
    assert coop is not None
    return stored_upload(
        tx,
        upload,
        key=f"advance_quote:{uuid.uuid4().hex}",
        coop_id=coop.id,
        case_id=None,
        kind=QUOTE,
        title=f"Devis ou facture joint à la demande d'avance le {date_fr(tx.now)}",
        stem=f"devis-avance-{coop.affiliation_number}",
    )


def _request_data(form: AdvanceForm, quote: Document, by: str, now: datetime) -> dict[str, Any]:
    """``case.data["request"]`` as the definition documents it."""
    assert form.project_on.data is not None
    return {
        "project": " ".join((form.project.data or "").split()),
        "project_on": form.project_on.data.isoformat(),
        "pays_for": " ".join((form.pays_for.data or "").split()),
        "supplier": " ".join((form.supplier.data or "").split()),
        "supplier_iban": form.supplier_iban_compact,
        "amount_cents": form.amount_cents,
        "declared_cents": form.limits.declared_cents,
        "quote_document_id": quote.id,
        "requested_by": by,
        "requested_at": now.isoformat(),
    }


# Reading ----------------------------------------------------------------------------


def advance_case(session: Session, coop_id: int) -> Case | None:
    return latest_case(session, coop_id, PROCESS)


def _open(case: Case | None) -> bool:
    """An advance under way (neither refused nor repaid): no other may be asked."""
    return case is not None and not DEFINITION.state_by_name[case.state].final


def _not_askable(session: Session, coop_id: int, now: datetime) -> str | None:
    """Why the coop may not ask for an advance now, in French (``None``: it may)."""
    if _open(advance_case(session, coop_id)):
        return ALREADY_REQUESTED
    reasons = eligibility_unmet(session, coop_id, now)
    return reasons[0] if reasons else None


def _limits(session: Session, coop_id: int, now: datetime) -> Limits:
    coop = session.get(Coop, coop_id)
    if coop is None:
        abort(404)
    transfer = transfer_case(session, coop_id)
    declared = declared_cents(transfer) if transfer is not None else None
    return Limits(paris(now).date(), declared, coop.ad.advance_cap_cents)


def _signature_form(session: Session) -> SignatureForm:
    mandataire = session.get(Mandataire, current_user.id)
    if mandataire is None:
        abort(403)
    form = SignatureForm()
    form.first_name, form.last_name = mandataire.first_name, mandataire.last_name
    return form


def _refresh(case: Case | None, signed_copy: Document | None) -> int | None:
    """While a step works for the mandataire to see: reviewers told, the contract or
    its signed copy rendered (not once stuck: the AD's team is on it)."""
    if case is None or case.stuck_reason:
        return None
    working = case.state in (REQUESTED, APPROVED) or (case.state == SIGNED and not signed_copy)
    return REFRESH if working else None


def _page(
    status: int = 200,
    *,
    form: AdvanceForm | None = None,
    signature_form: SignatureForm | None = None,
    conflict: str | None = None,
) -> tuple[str, int]:
    rt = runtime()
    now = rt.engine.clock.now()
    with rt.db.read() as session:
        coop = session.get(Coop, current_user.coop_id)
        if coop is None:
            abort(404)
        case = advance_case(session, coop.id)
        data = (case.data or {}) if case is not None else {}
        limits = _limits(session, coop.id, now)
        reasons = [] if _open(case) else eligibility_unmet(session, coop.id, now)
        if form is None:
            form = AdvanceForm(formdata=None)
        form.limits = limits
        signed_copy = case_document(session, case, SIGNED_CONTRACT)
        context: dict[str, Any] = {
            "coop": coop,
            "ad": coop.ad,
            "the_ad": the_ad(coop.ad.name),
            "case": case,
            "state_label": DEFINITION.portal_label(case.state) if case is not None else None,
            "reasons": reasons,
            "askable": not _open(case) and not reasons,
            "limits": limits,
            "form": form,
            "form_fields": [form[name] for name in FIELDS],
            "signature_form": signature_form or SignatureForm(formdata=None),
            "asked": data.get("request") or {},
            "review": data.get("review") or {},
            "signature": data.get("signature") or {},
            "disbursement": data.get("disbursement") or {},
            "repayment": data.get("repayment") or {},
            "quote": case_document(session, case, QUOTE),
            "contract": case_document(session, case, CONTRACT),
            "signed_copy": signed_copy,
            "mask_iban": mask_iban,
            "grouped": grouped,
            "refresh": _refresh(case, signed_copy),
            "conflict": conflict,
            "attestation_url": url_for("portal.banque_postale_transfer.page"),
        }
        return render_template("portal/emergency_advance/page.html", **context), status
