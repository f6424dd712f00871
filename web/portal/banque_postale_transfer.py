"""« Solde Banque Postale » (seed 002): the old account's balance moved to the new one.

While the case waits, the page says for what (its prerequisites); then the mandataire
fills the attestation (:mod:`web.portal.attestation_form`: the three statements, the old
account, its balance; « Répondez impérativement à ce formulaire sinon… vous attendrez
en vain le solde »). A refusal stores nothing and says why next to each field; taken,
it is kept in the case and ``attest`` fired in one transaction, once whatever the
clicks. Afterwards the page says what happens now, offers the letter to La Banque
Postale once a step has rendered it, and at last the amount received. The page runs no
script (the portal's CSP): while the letter is prepared it reloads itself.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from schwifty import IBAN
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from web.auth import mandataire_required
from web.portal.attestation_form import FIELDS, AttestationForm
from web.portal.checklist import waiting_reasons
from web.runtime import runtime
from web.submissions import Submission, mandataire_owner
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import ConflictError, TransitionNotAllowed
from workflows.formatting import date_fr
from workflows.models import Case, Coop, Document, Mandataire
from workflows.processes.banque_postale_transfer.attestation import attestation_of
from workflows.processes.banque_postale_transfer.definition import (
    ATTESTED,
    AWAITING_ATTESTATION,
    DEFINITION,
    PROCESS,
    STATEMENTS,
    WAITING,
)
from workflows.processes.iban.rib_checks import mask_iban

bp = Blueprint("banque_postale_transfer", __name__)

#: The page of each state where the mandataire acts (checked at start: coopflow.house).
PAGES = {AWAITING_ATTESTATION: "portal.banque_postale_transfer.page"}

#: Seconds between two reloads while the letter to La Banque Postale is prepared.
REFRESH = 3
#: The letter's document (step ``render_transfer_request``).
LETTER = "transfer_request"

TAKEN = (
    "Votre attestation est enregistrée : la demande de clôture et de reversement du solde "
    "à La Banque Postale est préparée."
)
NOT_OPEN = (
    "Le reversement du solde Banque Postale n'a pas encore commencé pour votre coopérative : "
    "rien n'a été enregistré."
)
ALREADY_ATTESTED = (
    "Votre attestation est déjà enregistrée : rien n'a été enregistré de nouveau. La page "
    "ci-dessous dit où en est le reversement."
)


# Pages ------------------------------------------------------------------------------


@bp.get("/mon-espace/solde-banque-postale")
@mandataire_required
def page():  # type: ignore[no-untyped-def]
    return _page()


@bp.post("/mon-espace/solde-banque-postale")
@mandataire_required
def attest():  # type: ignore[no-untyped-def]
    """The attestation: refused next to its fields with nothing stored, or kept in the
    case with ``attest`` fired, once whatever the clicks."""
    form = AttestationForm()
    if not form.validate_on_submit():
        return _page(422, form=form)
    old_account, declared = form.old_account_iban, form.declared_cents
    assert old_account is not None and declared is not None

    def work(tx: UnitOfWork) -> tuple[str, str]:
        found = transfer_case(tx.session, current_user.coop_id)
        if found is None:
            raise TransitionNotAllowed(NOT_OPEN)
        case = tx.lock(found.id)
        if case.state != AWAITING_ATTESTATION:  # before anything is written
            raise TransitionNotAllowed(NOT_OPEN if case.state == WAITING else ALREADY_ATTESTED)
        actor = mandataire_actor(tx.session)
        case.data = {
            **(case.data or {}),
            "attestation": {
                **dict.fromkeys(STATEMENTS, True),
                "old_account": old_account,
                "declared_cents": declared,
                "attested_at": tx.now.isoformat(),
                "attested_by": actor.name,
                "ip": request.remote_addr or "",
            },
        }
        payload = {"old_account": mask_iban(old_account), "declared_cents": declared}
        tx.fire(case.id, "attest", actor=actor, payload=payload)
        return ("success", TAKEN)

    once = Submission(mandataire_owner(current_user.id))
    try:
        return once.run(runtime().engine, work, url_for(".page"))
    except ConflictError as exc:
        return _page(409, form=form, conflict=str(exc))


@bp.app_template_filter("day_fr")
def day_fr(value: object) -> str:
    """``12/10/2026`` from a date a case keeps (``2026-10-12``), or from a UTC time
    (``2026-10-12T21:30:00+00:00``, its day in Paris); empty if none."""
    text = str(value or "")
    try:
        if len(text) > 10:
            return date_fr(datetime.fromisoformat(text))
        return date.fromisoformat(text).strftime("%d/%m/%Y") if text else ""
    except ValueError:
        return ""


# Reading ----------------------------------------------------------------------------


def latest_case(session: Session, coop_id: int, process: str) -> Case | None:
    """The coop's newest case of ``process``, if there is one."""
    return session.scalars(
        select(Case)
        .where(Case.coop_id == coop_id, Case.process == process)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    ).first()


def transfer_case(session: Session, coop_id: int) -> Case | None:
    return latest_case(session, coop_id, PROCESS)


def case_document(session: Session, case: Case | None, kind: str) -> Document | None:
    """The newest document of ``kind`` a step rendered for the case (not its content)."""
    if case is None:
        return None
    return session.scalars(
        select(Document)
        .where(Document.case_id == case.id, Document.coop_id == case.coop_id, Document.kind == kind)
        .options(defer(Document.content))
        .order_by(Document.created_at.desc(), Document.id.desc())
        .limit(1)
    ).first()


def mandataire_actor(session: Session) -> Actor:
    """The mandataire logged in, as the case's history names them."""
    mandataire = session.get(Mandataire, current_user.id)
    if mandataire is None:
        abort(403)
    return Actor.mandataire(mandataire)


def grouped(iban: str) -> str:
    """An IBAN as printed, in groups of four."""
    return str(IBAN(iban, allow_invalid=True).formatted)


def _page(
    status: int = 200, *, form: AttestationForm | None = None, conflict: str | None = None
) -> tuple[str, int]:
    rt = runtime()
    now = rt.engine.clock.now()
    with rt.db.read() as session:
        coop = session.get(Coop, current_user.coop_id)
        if coop is None:
            abort(404)
        case = transfer_case(session, coop.id)
        waiting = case is None or case.state == WAITING
        letter = case_document(session, case, LETTER)
        # The letter being prepared (not once stuck: the AD's team is on it).
        preparing = (
            case is not None and case.state == ATTESTED and letter is None and not case.stuck_reason
        )
        data = (case.data or {}) if case is not None else {}
        form = form or AttestationForm(formdata=None)
        context: dict[str, Any] = {
            "coop": coop,
            "ad": coop.ad,
            "case": case,
            "state_label": DEFINITION.portal_label(case.state) if case is not None else None,
            "waiting": waiting_reasons(session, coop.id, DEFINITION, now) if waiting else [],
            "form": form,
            "form_fields": [form[name] for name in FIELDS],
            "statements": list(STATEMENTS),
            "attestation": attestation_of(case) if case is not None else {},
            "letter": letter,
            "sent_on": (data.get("letter") or {}).get("sent_on"),
            "funds": data.get("funds") or {},
            "grouped": grouped,
            "refresh": REFRESH if preparing else None,
            "conflict": conflict,
        }
        return render_template("portal/banque_postale_transfer/page.html", **context), status
