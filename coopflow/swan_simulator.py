"""The sandbox's stand-in for Swan's identification page (``COOPFLOW_SWAN_MODE=sandbox``
only): what the mandataire would do on Swan's page, and what Swan's reviewers would
decide, one button each, so the whole kyc journey runs without Swan.

A button applies ``SandboxSwan.simulate`` and hands each webhook event it returns to
``workflows.swan_events``, as ``/webhooks/swan`` would once Swan posted it (one
transaction per event, in the order Swan sends them). Like Swan's own page it is
outside the portal (no login: the membership's random id is its key) and never framed.
It runs no script: one form, one button per move.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from workers.providers.swan.errors import SwanRejected
from workers.providers.swan.interface import IdentificationStatus, MembershipStatus
from workers.providers.swan.sandbox import SandboxSwan
from workflows import swan_events
from workflows.processes.kyc.reasons import mismatch_sentence, reason_text

bp = Blueprint("swan_sandbox", __name__, url_prefix="/sandbox/swan")


@dataclass(frozen=True)
class Move:
    label: str
    outcome: str
    reasons: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    #: The person's own move, or Swan's decision.
    by_person: bool = False


#: The page's buttons, by their ``choice`` value, in the order shown.
MOVES = {
    "started": Move("Commencer", "started", by_person=True),
    "pending": Move("Envoyer mes pièces", "pending", by_person=True),
    "valid": Move("Identité validée", "valid"),
    "expired_document": Move("Refuser : pièce expirée", "invalid", ("ExpiredDocument",)),
    "unreadable": Move(
        "Refuser : document illisible", "invalid", ("InsufficientDocumentReadability",)
    ),
    "other_person": Move("Refuser : identité différente", "invalid", ("NonMatchingIdentity",)),
    "expired": Move("Expirée", "expired"),
    "name_mismatch": Move(
        "Identité différente de la fiche (nom)", "binding_error", fields=("lastNameMatchError",)
    ),
}

IDENTIFICATION_LABELS = {
    IdentificationStatus.STARTED: "Commencée",
    IdentificationStatus.PENDING: "Pièces envoyées, examen en cours",
    IdentificationStatus.VALID: "Validée",
    IdentificationStatus.INVALID: "Refusée",
    IdentificationStatus.CANCELED: "Annulée",
    IdentificationStatus.EXPIRED: "Expirée",
    IdentificationStatus.NOT_SUPPORTED: "Non prise en charge",
}
MEMBERSHIP_LABELS = {
    MembershipStatus.CONSENT_PENDING: "Consentement attendu",
    MembershipStatus.INVITATION_SENT: "Invitation envoyée, identité non vérifiée",
    MembershipStatus.BINDING_USER_ERROR: "Identité différente de la fiche",
    MembershipStatus.ENABLED: "Active : identité vérifiée",
    MembershipStatus.SUSPENDED: "Suspendue",
    MembershipStatus.DISABLED: "Désactivée",
}


def _sandbox() -> SandboxSwan:
    swan = current_app.extensions["coopflow"].swan
    if not isinstance(swan, SandboxSwan):  # registered in the sandbox mode only
        abort(404)
    return swan


def _return_url(given: str | None) -> str:
    """Where « Retour à la plateforme » leads: the address given when it is this
    platform's (never elsewhere: no open redirect), else the portal's home."""
    base = current_app.extensions["coopflow"].settings.base_url.rstrip("/")
    if given:
        parts = urlsplit(given)
        on_platform = given == base or given.startswith(base + "/")
        local = not parts.scheme and not parts.netloc and given.startswith("/")
        if (on_platform or local) and "\\" not in given:
            return given
    return url_for("portal.home")


@bp.get("/identification/<membership_id>")
def identification(membership_id: str) -> str:
    return _page(membership_id)


@bp.post("/identification/<membership_id>")
def act(membership_id: str) -> Response | tuple[str, int]:
    sandbox = _sandbox()
    move = MOVES.get(request.form.get("choice", ""))
    if move is None:
        return _page(membership_id, error="Choisissez l'un des boutons de la page."), 422
    try:
        events = sandbox.simulate(
            membership_id, move.outcome, reasons=move.reasons, fields=move.fields
        )
    except SwanRejected as refused:
        if sandbox.person(membership_id) is None:
            abort(404)
        return _page(membership_id, error=str(refused)), 409
    _deliver(events)
    flash(
        f"C'est fait : « {move.label} ». Swan a prévenu la plateforme."
        if events
        else f"« {move.label} » : rien n'a changé.",
        "info",
    )
    back = request.form.get("redirect")
    query = f"?{urlencode({'redirect': back})}" if back else ""
    return redirect(url_for(".identification", membership_id=membership_id) + query)


def _deliver(events: list[dict[str, str]]) -> None:
    """Each event as ``/webhooks/swan`` receives it: kept, and the case asked to sync."""
    engine = current_app.extensions["coopflow"].engine
    for event in events:  # as Swan posts them: each on its own
        with engine.transaction() as tx:
            swan_events.record(tx, swan_events.parse(event))


def _page(membership_id: str, *, error: str | None = None) -> str:
    person = _sandbox().person(membership_id)
    if person is None:
        abort(404)
    membership = person.membership
    latest = membership.identifications[0] if membership.identifications else None
    given = request.values.get("redirect")
    context: dict[str, Any] = {
        "person": person,
        "birth_date": person.birth_date.strftime("%d/%m/%Y") if person.birth_date else None,
        "membership_label": MEMBERSHIP_LABELS[membership.status],
        "latest": latest,
        "latest_label": IDENTIFICATION_LABELS[latest.status] if latest else None,
        "reasons": [reason_text(code).what for code in latest.reasons] if latest else [],
        "mismatch": mismatch_sentence(membership.mismatches) if membership.mismatches else None,
        "moves": MOVES,
        "redirect": given or "",
        "return_url": _return_url(given),
        "error": error,
    }
    return render_template("swan_sandbox/identification.html", **context)
