"""« Vérification d'identité » (seed 002: « allez au bout de l'authentification via votre
smartphone »): what to prepare, where it happens (Swan's own page, in its own tab: it
cannot run in a frame), where it stands in French, and after a refusal why and what to
do, with « Recommencer la vérification ».

The page runs no script (the portal's CSP): while Swan examines, or while a step
prepares the link, it reloads itself (``<meta http-equiv="refresh">``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from web.auth import mandataire_required
from web.portal.checklist import waiting_reasons
from web.runtime import runtime
from web.submissions import Submission, mandataire_owner
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import ConflictError, TransitionNotAllowed
from workflows.models import Case, Coop, Mandataire, Step, StepStatus
from workflows.processes.kyc.definition import (
    EXPIRED,
    IN_PROGRESS,
    INVALID,
    LINK_SENT,
    PENDING_REVIEW,
    PROCESS,
    WAITING,
)
from workflows.processes.kyc.reasons import (
    Explained,
    mismatch_labels,
    mismatch_sentence,
    reason_text,
)

bp = Blueprint("kyc", __name__)

#: The page of each state where the mandataire acts (checked at start: coopflow.house).
PAGES = {state: "portal.kyc.page" for state in (LINK_SENT, IN_PROGRESS, INVALID, EXPIRED)}

#: Seconds between two reloads: while a step prepares the link (a moment), while the
#: mandataire is on Swan's page, while Swan examines the documents.
REFRESH_PREPARING = 3
REFRESH_STARTED = 30
REFRESH_EXAMINED = 15

RETRIED = (
    "C'est reparti : une nouvelle vérification est préparée. Ouvrez la page de Swan dès "
    "que le bouton apparaît ci-dessous."
)
NOT_STARTED = "La vérification d'identité n'a pas encore commencé pour votre coopérative."


@dataclass(frozen=True)
class SwanLink:
    """Where the mandataire goes: Swan's page, or why there is no link (yet)."""

    url: str | None = None
    #: A step is preparing it: the page reloads itself in a moment.
    preparing: bool = False
    #: That step has failed once already: it tries again in a few minutes.
    delayed: bool = False
    #: The manual path: no link, the AD's team gets in touch.
    manual: bool = False
    #: No link could be prepared: the case is stuck, the AD's team is told.
    unavailable: bool = False


@bp.get("/mon-espace/identite")
@mandataire_required
def page():  # type: ignore[no-untyped-def]
    return _page()


@bp.post("/mon-espace/identite/recommencer")
@mandataire_required
def retry():  # type: ignore[no-untyped-def]
    """« Recommencer la vérification » after a refusal or an expiry: once, whatever the
    clicks (a second one gets the first one's answer)."""

    def work(tx: UnitOfWork) -> tuple[str, str]:
        case = kyc_case(tx.session, current_user.coop_id)
        if case is None:
            raise TransitionNotAllowed(NOT_STARTED)
        tx.fire(case.id, "retry", actor=_actor(tx.session))
        return ("success", RETRIED)

    once = Submission(mandataire_owner(current_user.id))
    try:
        return once.run(runtime().engine, work, url_for("portal.kyc.page"))
    except ConflictError as exc:
        return _page(409, conflict=str(exc))


# Reading ----------------------------------------------------------------------------


def kyc_case(session: Session, coop_id: int) -> Case | None:
    """The coop's latest ``kyc`` case, if there is one."""
    return session.scalars(
        select(Case)
        .where(Case.coop_id == coop_id, Case.process == PROCESS)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    ).first()


def swan_link(session: Session, case: Case) -> SwanLink:
    """Swan's page for this attempt. Until ``request_identification`` has run for it (at
    the start, after « Recommencer »), the page waits for the link rather than offer the
    previous attempt's."""
    running = session.execute(
        select(Step.status, Step.attempts)
        .where(
            Step.case_id == case.id,
            Step.name == "request_identification",
            Step.status.in_((StepStatus.PENDING.value, StepStatus.RUNNING.value)),
        )
        .limit(1)
    ).first()
    if running is not None:
        # Pending after a failed attempt: it waits for its retry, in minutes.
        retrying = running.status == StepStatus.PENDING.value and running.attempts > 0
        return SwanLink(preparing=True, delayed=retrying)
    if "identification_url" not in case.data:
        return SwanLink(unavailable=True)
    url = case.data.get("identification_url")
    if url is None:
        return SwanLink(manual=True)
    return SwanLink(url=str(url)) if _is_web_address(str(url)) else SwanLink(unavailable=True)


def refusal_reasons(case: Case) -> list[Explained]:
    """Swan's reasons for the last refusal, in French, each said once."""
    codes = case.data.get("reasons") or [None]
    explained = [reason_text(code) for code in codes]
    return list(dict.fromkeys(explained))


def _is_web_address(url: str) -> bool:
    """An ``http(s)`` address, or a page of this site: never ``javascript:`` and the like."""
    parts = urlsplit(url)
    if parts.scheme:
        return parts.scheme in ("http", "https") and bool(parts.netloc)
    return url.startswith("/") and not url.startswith("//")


def _actor(session: Session) -> Actor:
    mandataire = session.get(Mandataire, current_user.id)
    if mandataire is None:
        abort(403)
    return Actor.mandataire(mandataire)


def _refresh(case: Case, link: SwanLink | None, mismatch: list[str]) -> int | None:
    """How soon the page reloads itself, or ``None`` when nothing moves without the
    mandataire (or only with the AD's team, in days)."""
    if link is not None and link.preparing:
        return REFRESH_STARTED if link.delayed else REFRESH_PREPARING
    if link is not None and link.unavailable:
        return None
    if case.state == IN_PROGRESS:
        return REFRESH_STARTED
    if case.state == PENDING_REVIEW and not mismatch:
        return REFRESH_EXAMINED
    return None


def _page(status: int = 200, *, conflict: str | None = None):  # type: ignore[no-untyped-def]
    rt = runtime()
    definition = rt.engine.definition(PROCESS)
    with rt.db.read() as session:
        coop = session.get(Coop, current_user.coop_id)
        case = kyc_case(session, current_user.coop_id)
        if coop is None or case is None:
            abort(404)
        context: dict[str, Any] = {
            "coop": coop,
            "ad": coop.ad,
            "case": case,
            "state_label": definition.portal_label(case.state),
            "conflict": conflict,
            "link": None,
            "reasons": [],
            "mismatch": list(case.data.get("mismatch") or []),
            "refusals": int(case.data.get("refusals") or 0),
            "waiting": [],
        }
        if case.state == WAITING:
            now = rt.engine.clock.now()
            context["waiting"] = waiting_reasons(session, coop.id, definition, now)
        if case.state in (LINK_SENT, IN_PROGRESS):
            context["link"] = swan_link(session, case)
        if case.state == INVALID:
            context["reasons"] = refusal_reasons(case)
        context["mismatch_sentence"] = mismatch_sentence(context["mismatch"])
        context["mismatch_plural"] = len(mismatch_labels(context["mismatch"])) > 1
        context["refresh"] = _refresh(case, context["link"], context["mismatch"])
        return render_template("portal/kyc/page.html", **context), status
