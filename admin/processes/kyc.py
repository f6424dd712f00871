"""The kyc's staff task in the back-office: « Vérifier l'identité » (``verify_identity``),
a page of its own (:mod:`admin.processes.task_pages`).

Recommended when Swan's membership does not match the mandataire's record
(``kyc_binding_mismatch``), offered on every open case: the manual path, where Swan's
verdict reaches OCCE through AssoConnect or Swan's dashboard rather than its API. The
page shows what coopflow knows of the verification (membership, Swan's last statuses,
the fields that do not match, the last refusal) and records « Identité vérifiée » or
« Refusée » with Swan's reason, each naming where staff saw it.

« Appeler le mandataire » (``call_mandataire``, refused twice) is a trigger of the
definition: the case page's own form notes the call, its comment required.
"""

from __future__ import annotations

from typing import Any

from flask_admin import expose
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wtforms import TextAreaField

from admin.case_actions import StaffAction, lock_visible
from admin.forms import COMMENT_TOO_LONG, CaseActionForm
from admin.processes import task_pages
from admin.processes.task_pages import OneOf, RadioOneOf, TaskPage
from web.auth import StaffPrincipal
from web.forms import text_field
from web.runtime import Runtime
from workflows.engine.engine import Actor
from workflows.engine.errors import TransitionNotAllowed
from workflows.models import Case, CaseEvent, Mandataire
from workflows.processes.kyc.definition import (
    IN_PROGRESS,
    INVALID,
    LINK_SENT,
    PENDING_REVIEW,
    PROCESS,
    VERIFY_IDENTITY,
)
from workflows.processes.kyc.reasons import REASONS, mismatch_labels, reason_text

#: The staff actions the definition's stuck rules recommend beyond its triggers.
ACTIONS = {VERIFY_IDENTITY: "Vérifier l'identité"}

#: The states where an outcome may be recorded by hand (``validate``, ``refuse``).
OPEN = (LINK_SENT, IN_PROGRESS, PENDING_REVIEW)
#: Where staff saw the outcome: said in the history with their comment.
SOURCES = [
    ("swan", "Vu dans le tableau de bord Swan"),
    ("assoconnect", "Confirmé par AssoConnect"),
    ("autre", "Autre source (précisez-la dans le commentaire)"),
]
SOURCE_MISSING = "Indiquez où vous avez vu ce résultat."
#: Swan's statuses as staff read them (the codes stay beside them).
SWAN_STATUSES = {
    "Started": "commencée",
    "Pending": "en cours d'examen",
    "Valid": "valide",
    "Invalid": "refusée",
    "Canceled": "annulée",
    "Expired": "expirée",
    "NotSupported": "impossible avec ce document ou ce pays",
}
MEMBERSHIP_STATUSES = {
    "ConsentPending": "consentement attendu",
    "InvitationSent": "invitation envoyée",
    "BindingUserError": "identité différente de la fiche",
    "Enabled": "active",
    "Suspended": "suspendue",
    "Disabled": "désactivée",
}


def _comment_field() -> Any:
    return text_field(
        TextAreaField,
        "Commentaire (ce que vous avez vu)",
        max_length=2000,
        too_long=COMMENT_TOO_LONG,
        missing="Indiquez ce que vous avez vu : c'est enregistré dans l'historique.",
    )


class ValidForm(CaseActionForm):
    source = RadioOneOf("Vu où ?", SOURCES, SOURCE_MISSING)
    comment = _comment_field()


class RefusedForm(CaseActionForm):
    reason = OneOf(
        "Motif du refus (le mandataire le lit)",
        [("", "— Choisissez le motif donné par Swan —")]
        + [(code, f"{explained.what} ({code})") for code, explained in REASONS.items()],
        "Choisissez le motif du refus dans la liste.",
    )
    source = RadioOneOf("Vu où ?", SOURCES, SOURCE_MISSING)
    comment = _comment_field()


def _open_case(tx: Any, principal: StaffPrincipal, case_id: int, version: int) -> Case:
    case = lock_visible(tx, principal, case_id, version)
    if case.process != PROCESS or case.state not in OPEN:
        raise TransitionNotAllowed(
            "La vérification de ce dossier n'est plus en cours : rechargez la page."
        )
    return case


def _sourced(form: Any) -> str:
    """« Vu dans le tableau de bord Swan : … »: the history says where it was seen."""
    source = dict(SOURCES)[form.source.data]
    return f"{source.split(' (')[0]} : {form.comment.data}"


def refusals(session: Session, case_id: int) -> int:
    """The refusals the case has had (Swan's and staff's), as the kyc steps count them."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(
                CaseEvent.case_id == case_id,
                CaseEvent.trigger == "refuse",
                CaseEvent.to_state == INVALID,
            )
        )
        or 0
    )


def validate(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    with rt.engine.transaction() as tx:
        _open_case(tx, principal, case_id, form.version.data)
        tx.fire(
            case_id,
            "validate",
            actor=Actor.staff(principal),
            expected_version=form.version.data,
            payload={"source": form.source.data},
            comment=_sourced(form),
        )
    return "Identité enregistrée comme vérifiée."


def refuse(rt: Runtime, principal: StaffPrincipal, case_id: int, form: Any) -> str:
    code = form.reason.data
    with rt.engine.transaction() as tx:
        case = _open_case(tx, principal, case_id, form.version.data)
        count = refusals(tx.session, case.id) + 1
        # As the steps keep Swan's last refusal: the reasons, how many so far.
        case.data = {**case.data, "reasons": [code], "refusals": count}
        tx.fire(
            case_id,
            "refuse",
            actor=Actor.staff(principal),
            expected_version=form.version.data,
            payload={
                "reasons": [code],
                "reason": reason_text(code).what,
                "refusals": count,
                "source": form.source.data,
            },
            comment=_sourced(form),
        )
    return "Refus enregistré : le mandataire reçoit le motif et ce qu'il doit faire."


def context(session: Session, case: Case, principal: StaffPrincipal) -> dict[str, Any]:
    data = case.data or {}
    swan_status = data.get("swan_status")
    membership_status = data.get("membership_status")
    mandataire_id = data.get("mandataire_id")
    return {
        "mandataire": session.get(Mandataire, mandataire_id) if mandataire_id else None,
        "membership_id": data.get("membership_id"),
        "manual": not data.get("identification_url"),
        "swan_status": swan_status,
        "swan_status_label": SWAN_STATUSES.get(str(swan_status), ""),
        "membership_status": membership_status,
        "membership_status_label": MEMBERSHIP_STATUSES.get(str(membership_status), ""),
        "mismatch": mismatch_labels(data.get("mismatch") or ()),
        "last_reasons": [reason_text(str(c)) for c in data.get("reasons") or ()],
        "refusals": refusals(session, case.id),
    }


def _form(prefix: str, form: type[Any], endpoint: str, perform: Any) -> StaffAction:
    return StaffAction(
        VERIFY_IDENTITY,
        prefix=prefix,
        form=form,
        endpoint=endpoint,
        offered=lambda case: True,
        perform=perform,
        field="comment",
    )


IDENTITY = TaskPage(
    VERIFY_IDENTITY,
    "Enregistrer le résultat de la vérification d'identité",
    endpoint=".identity",
    template="coopflow_admin/processes/kyc_identity.html",
    offered=lambda case: case.process == PROCESS and case.state in OPEN,
    forms=(
        _form("valid", ValidForm, ".identity_valid", validate),
        _form("refused", RefusedForm, ".identity_refused", refuse),
    ),
    context=context,
    triggers=("validate", "refuse"),
)
#: The tasks with a page, by the action a stuck rule recommends.
PAGES = (IDENTITY,)


class Routes:
    """The routes of :data:`PAGES`, mixed into :class:`admin.cases.CaseView`."""

    @expose("/<int:case_id>/identite")
    def identity(self, case_id: int) -> Any:
        return task_pages.show(self, case_id, IDENTITY)

    @expose("/<int:case_id>/identite/verifiee", methods=("POST",))
    def identity_valid(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, IDENTITY, "valid")

    @expose("/<int:case_id>/identite/refusee", methods=("POST",))
    def identity_refused(self, case_id: int) -> Any:
        return task_pages.post(self, case_id, IDENTITY, "refused")
