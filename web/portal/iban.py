"""« Compte bancaire »: the RIB of the coop (seed 003: « un RIB récent, moins de 12
mois »), its checks' verdict next to each field, and once certified the account as the
platform has it, with « Le compte affiché n'est pas le nôtre » (seed 000, third check).

The form (:mod:`web.portal.rib_form`) only checks what it can see at once: nothing is
stored when it refuses. A RIB taken is stored (the file as a ``Document``,
the typed fields as a ``BankAccount``) and ``submit_rib`` fired in one transaction;
the step ``check_rib`` decides, and the page, which runs no script (the portal's CSP),
reloads itself until it has.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import select
from sqlalchemy.orm import Session

from web.auth import mandataire_required
from web.portal.rib_form import FIELDS, RIB_TOO_LARGE, RibForm
from web.runtime import runtime
from web.submissions import Submission, mandataire_owner
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import ConflictError, GuardFailed, TransitionNotAllowed
from workflows.models import BankAccount, Case, CaseEvent, Coop, Document, Mandataire
from workflows.processes.iban import rib_checks
from workflows.processes.iban.accounts import certified_account
from workflows.processes.iban.definition import (
    AWAITING_RIB,
    CHECKING,
    MESSAGE_MAX,
    PROCESS,
    REJECTED,
    VERIFIED,
)
from workflows.processes.iban.submission import submit_rib

bp = Blueprint("iban", __name__)

#: The page of each state where the mandataire acts (checked at start: coopflow.house).
PAGES = {state: "portal.iban.page" for state in (AWAITING_RIB, REJECTED)}

#: Other names a refusal may give the file (the AD's review form).
_FIELD_ALIASES = {"file": "rib", "document": "rib"}
#: Seconds between two reloads while a step works on the RIB.
REFRESH = 3

SUBMITTED = "Votre RIB est déposé : il est en cours de vérification."
REPORTED = (
    "Votre signalement est envoyé à l'équipe de votre association départementale : elle "
    "vérifie le compte et revient vers vous."
)
ALREADY_SUBMITTED = (
    "Un RIB est déjà déposé pour votre coopérative : rien n'a été enregistré. La page "
    "ci-dessous dit où il en est."
)
NOT_STARTED = "La certification du compte bancaire n'a pas encore commencé."


# Pages ------------------------------------------------------------------------------


@bp.get("/mon-espace/compte-bancaire")
@mandataire_required
def page():  # type: ignore[no-untyped-def]
    return _page()


@bp.post("/mon-espace/compte-bancaire")
@mandataire_required
def submit():  # type: ignore[no-untyped-def]
    """The RIB: refused next to its fields with nothing stored, or stored with
    ``submit_rib`` fired, once whatever the clicks."""
    form = RibForm()
    if not form.validate_on_submit() or form.checked is None:
        return _page(422, form=form)
    upload = form.checked

    def work(tx: UnitOfWork) -> tuple[str, str]:
        case = iban_case(tx.session, current_user.coop_id)
        if case is None:
            raise TransitionNotAllowed(NOT_STARTED)
        tx.lock(case.id)
        if case.state not in (AWAITING_RIB, REJECTED):  # before anything is written
            raise TransitionNotAllowed(ALREADY_SUBMITTED)
        typed = rib_checks.RibInput(
            iban=form.iban.data or "",
            bic=form.bic.data or "",
            holder=form.holder.data or "",
            rib_date=form.rib_date.data,
        )
        submit_rib(tx, case, typed, upload, by=_actor(tx.session), key=uuid.uuid4().hex)
        return ("success", SUBMITTED)

    try:
        return _once().run(runtime().engine, work, url_for("portal.iban.page"))
    except ConflictError as exc:
        return _page(409, form=form, conflict=str(exc))


@bp.post("/mon-espace/compte-bancaire/signaler")
@mandataire_required
def report_mismatch():  # type: ignore[no-untyped-def]
    """« Le compte affiché n'est pas le nôtre »: the message becomes the AD's case."""
    message = request.form.get("message", "").strip()

    def work(tx: UnitOfWork) -> tuple[str, str]:
        case = iban_case(tx.session, current_user.coop_id)
        if case is None:
            raise TransitionNotAllowed(NOT_STARTED)
        actor = _actor(tx.session)
        tx.fire(case.id, "report_mismatch", actor=actor, payload={"message": message})
        return ("success", REPORTED)

    try:
        return _once().run(runtime().engine, work, url_for("portal.iban.page"))
    except GuardFailed as exc:
        return _page(422, report_error=str(exc), message=message)
    except ConflictError as exc:
        return _page(409, conflict=str(exc), message=message)


@bp.errorhandler(413)
def too_large(error: Exception):  # type: ignore[no-untyped-def]
    """A file past the site's limit cannot even be read: the form again, the reason
    next to the file (what was typed is lost with the request)."""
    form = RibForm(formdata=None)
    form.rib.errors = [RIB_TOO_LARGE]
    return _page(413, form=form)


# Writing ----------------------------------------------------------------------------


# Reading ----------------------------------------------------------------------------


def iban_case(session: Session, coop_id: int) -> Case | None:
    """The coop's latest ``iban`` case, if there is one."""
    return session.scalars(
        select(Case)
        .where(Case.coop_id == coop_id, Case.process == PROCESS)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    ).first()


def latest_account(session: Session, case: Case) -> BankAccount | None:
    """The RIB last submitted on the case."""
    return session.scalars(
        select(BankAccount)
        .where(BankAccount.case_id == case.id)
        .order_by(BankAccount.submitted_at.desc(), BankAccount.id.desc())
        .limit(1)
    ).first()


def refusal(
    session: Session, case: Case, account: BankAccount | None
) -> tuple[dict[str, list[str]], list[str]]:
    """Why the last RIB was refused: messages by field of the form, and the others (the
    AD's team's « autre motif », which names no field)."""
    event = _last_transition(session, case)
    payload = event.payload if event is not None else {}
    found: dict[str, Any] = dict(account.errors if account is not None else {})
    if not found and isinstance(payload.get("errors"), dict):
        found = payload["errors"]
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for name, said in found.items():
        messages = [said] if isinstance(said, str) else [str(m) for m in said or ()]
        name = _FIELD_ALIASES.get(name, name)
        if name in FIELDS:
            by_field.setdefault(name, []).extend(messages)
        else:
            general.extend(messages)
    return by_field, general


def _last_transition(session: Session, case: Case) -> CaseEvent | None:
    """The transition that brought the case to its state (when, who, why)."""
    return session.scalars(
        select(CaseEvent)
        .where(
            CaseEvent.case_id == case.id,
            CaseEvent.kind == "transition",
            CaseEvent.to_state == case.state,
        )
        .order_by(CaseEvent.id.desc())
        .limit(1)
    ).first()


def _staff_message(event: CaseEvent | None) -> str | None:
    """What the AD's team wrote to the mandataire with a refusal (its own comment on
    the case is not for them)."""
    if event is None or not event.actor.startswith("staff"):
        return None
    message = str(event.payload.get("message") or "").strip()
    return message or None


def _document(session: Session, account: BankAccount | None) -> Any:
    """The uploaded RIB's id, type and size (not its content)."""
    if account is None or account.document_id is None:
        return None
    return session.execute(
        select(Document.id, Document.content_type, Document.size).where(
            Document.id == account.document_id, Document.coop_id == account.coop_id
        )
    ).first()


def bank_name(iban: str) -> str | None:
    """The bank of ``iban`` as schwifty's registry names it, if it knows it."""
    try:
        return IBAN(iban, allow_invalid=True).bank_name
    except SchwiftyException:
        return None


def _once() -> Submission:
    return Submission(mandataire_owner(current_user.id))


def _actor(session: Session) -> Actor:
    mandataire = session.get(Mandataire, current_user.id)
    if mandataire is None:
        abort(403)
    return Actor.mandataire(mandataire)


def _prefilled(account: BankAccount | None) -> RibForm:
    """The form as the refused RIB was typed (never its file)."""
    if account is None:
        return RibForm(formdata=None)
    values = {
        "iban": account.iban,
        "bic": account.bic,
        "holder": account.holder,
        "rib_date": account.rib_date,
    }
    return RibForm(formdata=None, data=values)


def _page(
    status: int = 200,
    *,
    form: RibForm | None = None,
    conflict: str | None = None,
    report_error: str | None = None,
    message: str = "",
):  # type: ignore[no-untyped-def]
    rt = runtime()
    definition = rt.engine.definition(PROCESS)
    with rt.db.read() as session:
        coop = session.get(Coop, current_user.coop_id)
        case = iban_case(session, current_user.coop_id)
        if coop is None or case is None:
            abort(404)
        account = latest_account(session, case)
        general: list[str] = []
        if form is None and case.state == REJECTED:
            form = _prefilled(account)
            by_field, general = refusal(session, case, account)
            for name, messages in by_field.items():
                form[name].errors = messages
        elif form is None:
            form = RibForm(formdata=None)
        certified = certified_account(session, coop.id)
        last_event = _last_transition(session, case)
        context: dict[str, Any] = {
            "coop": coop,
            "ad": coop.ad,
            "case": case,
            "state_label": definition.portal_label(case.state),
            "form": form,
            "general_errors": general,
            "account": account,
            "document": _document(session, account),
            "certified": certified,
            "bank": bank_name(certified.iban) if certified is not None else None,
            "mask_iban": rib_checks.mask_iban,
            "last_event": last_event,
            "staff_message": _staff_message(last_event),
            "refresh": REFRESH if case.state in (CHECKING, VERIFIED) else None,
            "conflict": conflict,
            "report_error": report_error,
            "message": message,
            "message_max": MESSAGE_MAX,
        }
        return render_template("portal/iban/page.html", **context), status
