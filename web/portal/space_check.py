"""« Vérification de l'espace » (seed 000, step 3): the group information, the
administrators and the bank account as the platform has them, answered by « Tout est
correct » or « Signaler un problème »; and the details the mandataire may complete
(postal address, phone, logo).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from web.auth import mandataire_required
from web.portal.checklist import waiting_reasons
from web.runtime import runtime
from web.submissions import Submission, mandataire_owner
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import (
    ConflictError,
    GuardFailed,
    TransitionNotAllowed,
    VersionConflict,
)
from workflows.mandataires import with_account
from workflows.models import Case, CaseEvent, Coop, Document, Mandataire
from workflows.processes.iban.accounts import certified_account, shown
from workflows.processes.space_check.coop_details import (
    check_logo,
    clean_details,
    current_logo,
    fingerprint,
    save_details,
    space_case,
)
from workflows.processes.space_check.definition import CONFIRMED, MESSAGE_MAX, PROCESS, TO_CHECK

bp = Blueprint("space", __name__)

#: The page of each state where the mandataire acts (checked at start: coopflow.house).
PAGES = {TO_CHECK: "portal.space.page"}

DETAIL_FIELDS = ("street", "postal_code", "city", "phone")
NOT_STARTED = (
    "La vérification de votre espace n'est pas encore ouverte : elle le sera dès votre "
    "première connexion."
)
CHANGED_SINCE = (
    "Les informations de votre espace ont changé depuis l'affichage de cette page. "
    "Vérifiez-les à nouveau ci-dessous avant de confirmer."
)
MISSING_VERSION = "Ce formulaire est incomplet : rechargez la page et recommencez."
THANKS = (
    "Merci : vous avez confirmé que votre espace est correct. Son récapitulatif (PDF) "
    "sera dans « Documents » dans quelques instants."
)
REPORTED = (
    "Votre signalement est envoyé à l'équipe de votre association départementale. "
    "Elle vous demandera de vérifier à nouveau votre espace quand ce sera corrigé."
)


@bp.get("/mon-espace/verification")
@mandataire_required
def page():  # type: ignore[no-untyped-def]
    return _page()


@bp.post("/mon-espace/verification/confirmer")
@mandataire_required
def confirm():  # type: ignore[no-untyped-def]
    """« Tout est correct »: confirms what the page showed (its version and content)."""
    version = _version()
    shown = request.form.get("fingerprint", "")

    def work(tx: UnitOfWork) -> tuple[str, str]:
        case = _case_to_act_on(tx.session, version)
        tx.fire(case.id, "confirm", actor=_actor(tx.session), expected_version=version)
        coop = tx.session.get(Coop, case.coop_id)
        assert coop is not None
        if fingerprint(tx.session, coop) != shown:
            raise VersionConflict(CHANGED_SINCE)  # rolls the confirmation back
        return ("success", THANKS)

    try:  # a second click gets the first one's answer
        return _once().run(runtime().engine, work, url_for("portal.home"))
    except ConflictError as exc:
        return _page(409, conflict=str(exc))


@bp.post("/mon-espace/verification/signaler")
@mandataire_required
def report_problem():  # type: ignore[no-untyped-def]
    """« Signaler un problème »: the message becomes a task for the AD's team."""
    version = _version()
    message = request.form.get("message", "").strip()
    # An explicit fragment: the browser would otherwise keep the form's « #signaler ».
    home = url_for("portal.home", _anchor="contenu")

    def work(tx: UnitOfWork) -> tuple[str, str]:
        case = _case_to_act_on(tx.session, version)
        payload = {"message": message}
        actor = _actor(tx.session)
        tx.fire(case.id, "report_problem", actor=actor, expected_version=version, payload=payload)
        return ("success", REPORTED)

    try:
        return _once().run(runtime().engine, work, home)
    except GuardFailed as exc:
        return _page(422, report_error=str(exc), message=message)
    except ConflictError as exc:
        return _page(409, conflict=str(exc), message=message)


@bp.post("/mon-espace/verification/coordonnees")
@mandataire_required
def update_details():  # type: ignore[no-untyped-def]
    """Address, phone, logo: all written, each change audited, or nothing."""
    values = {name: request.form.get(name, "") for name in DETAIL_FIELDS}
    details, errors = clean_details(**values)
    logo = None
    upload = request.files.get("logo")
    if upload is not None and upload.filename:
        try:
            logo = check_logo(upload.read())
        except ValueError as exc:
            errors["logo"] = str(exc)
    if errors:
        return _page(422, details_errors=errors, details_values=values)

    def work(tx: UnitOfWork) -> tuple[str, str]:
        case = space_case(tx.session, current_user.coop_id)
        if case is None:
            raise TransitionNotAllowed(NOT_STARTED)
        tx.lock(case.id)  # one writer at a time; « Tout est correct » waits for it
        coop = tx.session.get(Coop, current_user.coop_id)
        assert coop is not None
        changes = save_details(tx, case, coop, _actor(tx.session), details, logo)
        if changes:
            return ("success", f"Enregistré : {_enumerate(changes)}.")
        return ("info", "Rien n'a changé : il n'y avait rien à enregistrer.")

    back = url_for("portal.space.page", _anchor="coordonnees")
    try:  # a second click shows what the first one saved
        return _once().run(runtime().engine, work, back)
    except ConflictError as exc:
        return _page(409, conflict=str(exc))


@bp.get("/mon-espace/verification/logo")
@mandataire_required
def logo():  # type: ignore[no-untyped-def]
    """The coop's logo, to its own mandataire only."""
    with runtime().db.read() as session:
        document = current_logo(session, current_user.coop_id)
        if document is None:
            abort(404)
        response = Response(document.content, mimetype=document.content_type)
    response.headers.set("Content-Disposition", "inline", filename=document.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# Helpers ----------------------------------------------------------------------------


def _once() -> Submission:
    return Submission(mandataire_owner(current_user.id))


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() else None


def _case_to_act_on(session: Any, version: int | None) -> Case:
    """The coop's case; the version the page showed is required (the optimistic lock)."""
    case = space_case(session, current_user.coop_id)
    if case is None:
        raise TransitionNotAllowed(NOT_STARTED)
    if version is None:
        raise VersionConflict(MISSING_VERSION)
    return case


def _actor(session: Any) -> Actor:
    mandataire = session.get(Mandataire, current_user.id)
    if mandataire is None:
        abort(403)
    return Actor.mandataire(mandataire)


def _enumerate(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} et {items[-1]}"


def _page(
    status: int = 200,
    *,
    conflict: str | None = None,
    report_error: str | None = None,
    message: str = "",
    details_errors: dict[str, str] | None = None,
    details_values: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    rt = runtime()
    definition = rt.engine.definition(PROCESS)
    with rt.db.read() as session:
        coop = session.get(Coop, current_user.coop_id)
        if coop is None:
            abort(404)
        case = space_case(session, coop.id)
        logo = current_logo(session, coop.id)
        context: dict[str, Any] = {
            "coop": coop,
            "ad": coop.ad,
            "me": session.get(Mandataire, current_user.id),
            "administrators": with_account(session, coop.id),
            "logo": logo,
            "bank_account": _shown_account(session, coop.id),
            "case": case,
            "state_label": definition.portal_label(case.state) if case else None,
            "waiting_reason": " ".join(
                waiting_reasons(session, coop.id, definition, rt.engine.clock.now())
            ),
            "fingerprint": fingerprint(session, coop),
            "last_event": _last_event(session, case),
            "summary": _summary(session, case),
            "message_max": MESSAGE_MAX,
            "conflict": conflict,
            "report_error": report_error,
            "message": message,
            "details_errors": details_errors or {},
            "details": details_values
            or {
                "street": coop.street,
                "postal_code": coop.postal_code,
                "city": coop.city,
                "phone": coop.phone,
            },
        }
        return render_template("portal/space_check/space.html", **context), status


def _shown_account(session: Any, coop_id: int) -> str | None:
    """The certified account as the page shows it: its IBAN masked."""
    account = certified_account(session, coop_id)
    return shown(account) if account else None


def _last_event(session: Any, case: Case | None) -> CaseEvent | None:
    """The transition that brought the case to its state (when, who, the message)."""
    if case is None:
        return None
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


def _summary(session: Any, case: Case | None) -> int | None:
    """The id of the summary PDF of a confirmed check, once the worker has rendered it."""
    if case is None or case.state != CONFIRMED:
        return None
    return session.scalar(
        select(Document.id)
        .where(Document.case_id == case.id, Document.kind == "space_summary")
        .order_by(Document.id.desc())
        .limit(1)
    )
