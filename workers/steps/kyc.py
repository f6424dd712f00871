"""Steps of ``kyc``: the mandataire's account membership at Swan and the instructions
emailed to them, the status asked of Swan again on each webhook and poll, the reminders
and the outcome emails.

Swan is reached only through ``ctx.services.swan`` (its sandbox, the real API or the
manual path). A call is made outside any transaction; what it returned is written in
the next one, so a run cut between the two simply runs again: Swan answers the same
membership for the same email, and a status read twice moves the case once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workers.context import StepContext
from workers.email_delivery import deliver_for_step
from workers.email_messages import Composed
from workers.providers.swan.errors import SwanRejected
from workers.providers.swan.interface import (
    Identification,
    IdentificationStatus,
    Membership,
    MembershipStatus,
    NewMember,
    Swan,
)
from workers.steps.case_emails import case_email, load_case
from workflows import swan_events
from workflows.engine.errors import PermanentStepError
from workflows.engine.steps import Outcome
from workflows.mandataires import latest_with_account
from workflows.models import Case, CaseEvent, Mandataire
from workflows.processes.kyc.definition import (
    DEFINITION,
    IN_PROGRESS,
    INVALID,
    LINK_SENT,
    PROCESS,
    PROGRESS,
)
from workflows.processes.kyc.reasons import Explained, mismatch_sentence, reason_text

log = logging.getLogger(__name__)

MEMBERSHIP, ACCOUNT = "membership", "account"
NO_MANDATAIRE = "Aucun mandataire de cette coopérative n'a encore de compte sur la plateforme."
#: How Swan's adapters name a refusal for an unknown id (the sandbox, the API client).
NOT_FOUND = ("NotFoundRejection", "NotFound")
#: The stuck reason a binding mismatch leaves on ``pending_review``.
MISMATCH_REASON = "kyc_binding_mismatch"


def _portal_link(ctx: StepContext) -> str:
    return f"{ctx.services.settings.base_url}{DEFINITION.portal_path}"


# request_identification ------------------------------------------------------------------


def request_identification(ctx: StepContext) -> Outcome:
    """Make sure Swan has a membership for the coop's mandataire (the one recorded for
    this case if it is still theirs, else a new one: Swan answers the existing one for
    the same email), note where they identify, and email them what to prepare."""
    swan = ctx.services.swan
    with ctx.engine.db.read() as session:
        case = load_case(session, ctx.step.case_id)
        mandataire = latest_with_account(session, case.coop_id)
        if mandataire is None:
            raise PermanentStepError(NO_MANDATAIRE)
        recorded = swan_events.tied(session, MEMBERSHIP, case_id=case.id)
        member = NewMember(
            account_id=swan_events.tied(session, ACCOUNT, coop_id=case.coop_id),
            email=mandataire.email,
            first_name=mandataire.first_name,
            last_name=mandataire.last_name,
            coop_ref=case.coop.affiliation_number,
        )
    membership = _known(swan, recorded, member.email) if recorded else None
    if membership is None:
        membership = swan.add_member(member)
    url = swan.identification_url(membership, _portal_link(ctx))

    with ctx.engine.transaction() as tx:
        case = tx.lock(ctx.step.case_id)
        if case.state != ctx.step.args.get("state"):
            return Outcome(result={"skipped": f"dossier passé à l'état {case.state}"})
        swan_events.tie(tx, case, MEMBERSHIP, membership.id)
        if membership.account_id:
            swan_events.tie(tx, case, ACCOUNT, membership.account_id)
        case.data = {
            **case.data,
            "mandataire_id": mandataire.id,
            "membership_id": membership.id,
            "account_id": membership.account_id or None,
            "identification_url": url,
            "attempt_since": (attempt_since(tx.session, case) or case.state_entered_at).isoformat(),
            "membership_status": membership.status.value,
        }

    def build(session: Session) -> Composed:
        case, person = _case_and_mandataire(session, ctx.step.case_id)
        return case_email(
            PROCESS,
            "instructions",
            "Vérifiez votre identité pour le compte de {coop} : 5 minutes avec un smartphone",
            case,
            person,
            link=_portal_link(ctx),
            manual=url is None,
        )

    delivery = deliver_for_step(ctx, build)
    return Outcome(result={"membership_id": membership.id, "email_status": delivery.status})


def _known(swan: Swan, membership_id: str, email: str) -> Membership | None:
    """The membership recorded for the case, if Swan still has it for this mandataire
    (``None`` when the mandataire changed since, or Swan no longer knows it)."""
    try:
        membership = swan.membership(membership_id)
    except SwanRejected as exc:
        if exc.code in NOT_FOUND:
            return None
        raise
    same = membership.email.strip().casefold() == email.strip().casefold()
    return membership if same and membership.status != MembershipStatus.DISABLED else None


#: The transitions that begin an attempt: identifications begun before it do not count.
ATTEMPT_BEGINS = ("start", "retry")


def attempt_since(session: Session, case: Case) -> datetime | None:
    """Since when an identification counts for the case's attempt: its entry in
    ``link_sent`` by ``start`` or by « Recommencer » (``retry``). A relaunch only sends
    the instructions again: an identification the mandataire has begun still counts
    (Swan lets them go on with it). Read from the history, so that a sync run between a
    retry and the step that notes it already ignores the refused identification."""
    return session.scalar(
        select(CaseEvent.at)
        .where(
            CaseEvent.case_id == case.id,
            CaseEvent.to_state == LINK_SENT,
            CaseEvent.trigger.in_(ATTEMPT_BEGINS),
        )
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )


# sync_identification ---------------------------------------------------------------------


def sync_identification(ctx: StepContext) -> Outcome:
    """Ask Swan where the membership and this attempt's identification are, note it, and
    move the case forward if Swan says it is further along; never backwards, so that a
    webhook twice, late or out of order, and the polls, change nothing more."""
    with ctx.engine.db.read() as session:
        case = load_case(session, ctx.step.case_id)
        membership_id = case.data.get("membership_id")
        since = attempt_since(session, case)
    if not membership_id:
        # Not requested yet: request_identification's run will be.
        return Outcome(result={"synced": False})
    membership = ctx.services.swan.membership(str(membership_id))
    identification = membership.latest_since(since)

    with ctx.engine.transaction() as tx:
        case = tx.lock(ctx.step.case_id)
        if case.state != ctx.step.args.get("state"):
            # Another sync moved the case while Swan answered this one: its answer may be
            # the older, and the case keeps what the newer one noted.
            return Outcome(result={"skipped": f"dossier passé à l'état {case.state}"})
        refusals = _refusals(tx.session, case.id)
        read = _reading(membership, identification)
        if read is not None and read[0] == "refuse":
            refusals += 1  # this one
            read[1]["refusals"] = refusals
        trigger = read[0] if read is not None and _forward(case, *read) else None
        case.data = {
            **case.data,
            "swan_status": identification.status.value if identification else None,
            "membership_status": membership.status.value,
            "reasons": list(identification.reasons) if identification else [],
            "mismatch": list(membership.mismatches)
            if membership.status == MembershipStatus.BINDING_USER_ERROR
            else [],
            "refusals": refusals,
        }
    result = {
        "swan_status": identification.status.value if identification else None,
        "membership_status": membership.status.value,
        "trigger": trigger,
    }
    if trigger is None or read is None:
        return Outcome(result=result)
    return Outcome(trigger, payload=read[1], result=result)


def _reading(
    membership: Membership, identification: Identification | None
) -> tuple[str, dict[str, Any]] | None:
    """The trigger Swan's answer calls for, and its payload (``None``: nothing to say)."""
    if membership.status == MembershipStatus.BINDING_USER_ERROR:
        fields = list(membership.mismatches)
        return "binding_mismatch", {"mismatch": mismatch_sentence(fields), "fields": fields}
    if identification is None:
        return None
    status = identification.status
    if status == IdentificationStatus.STARTED:
        return "started", {}
    if status == IdentificationStatus.PENDING:
        return "submitted", {}
    if status == IdentificationStatus.VALID:
        # Valid, but the membership is not bound yet: still Swan's to finish.
        enabled = membership.status == MembershipStatus.ENABLED
        return ("validate", {}) if enabled else ("submitted", {})
    if status == IdentificationStatus.INVALID:
        codes = list(identification.reasons)
        first = codes[0] if codes else None
        return "refuse", {"reasons": codes, "reason": reason_text(first).what}
    if status in (IdentificationStatus.EXPIRED, IdentificationStatus.CANCELED):
        return "expire", {}
    return None  # NotSupported: no state of the process says it; staff see swan_status


def _forward(case: Case, trigger: str, payload: dict[str, Any]) -> bool:
    """Whether ``trigger`` moves the case further along (:data:`PROGRESS`). The same
    state again is no move, but for a mismatch the case does not show yet."""
    candidates = DEFINITION.candidates(trigger, case.state)
    if not candidates or candidates[0].dest is None:
        return False
    target = candidates[0].dest
    if target == case.state:
        shown = case.stuck_reason == MISMATCH_REASON
        return trigger == "binding_mismatch" and (
            not shown or case.data.get("mismatch") != payload["fields"]
        )
    return PROGRESS[target] > PROGRESS[case.state]


def _refusals(session: Session, case_id: int) -> int:
    """The refusals this case has had (Swan's and staff's)."""
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


# Emails ----------------------------------------------------------------------------------


#: The reminder's subject in each state it is sent from (``invalid`` and ``expired``
#: alike: to do again).
REMINDER_SUBJECTS = {
    LINK_SENT: "Rappel : vérifiez votre identité pour le compte de {coop}",
    IN_PROGRESS: "Rappel : terminez la vérification de votre identité pour le compte de {coop}",
    INVALID: "Rappel : recommencez la vérification de votre identité pour le compte de {coop}",
}


def send_reminder(ctx: StepContext) -> Outcome:
    """The verification is not done yet: what to do, as the case stands."""

    def build(session: Session) -> Composed:
        case, person = _case_and_mandataire(session, ctx.step.case_id)
        subject = REMINDER_SUBJECTS.get(case.state, REMINDER_SUBJECTS[INVALID])
        return case_email(PROCESS, "reminder", subject, case, person, link=_portal_link(ctx))

    delivery = deliver_for_step(ctx, build)
    return Outcome(result={"email_status": delivery.status})


def notify_verified(ctx: StepContext) -> Outcome:
    def build(session: Session) -> Composed:
        case, person = _case_and_mandataire(session, ctx.step.case_id)
        subject = "Votre identité est vérifiée : le compte de {coop} avance"
        return case_email(PROCESS, "verified", subject, case, person, link=_portal_link(ctx))

    delivery = deliver_for_step(ctx, build)
    return Outcome(result={"email_status": delivery.status})


def notify_refused(ctx: StepContext) -> Outcome:
    """Why Swan (or the AD's team) refused, in French, and what to do."""

    def build(session: Session) -> Composed:
        case, person = _case_and_mandataire(session, ctx.step.case_id)
        explained, refusals = refusal_of(session, case)
        return case_email(
            PROCESS,
            "refused",
            "Vérification d'identité refusée : voici pourquoi et que faire",
            case,
            person,
            link=_portal_link(ctx),
            explained=explained,
            refusals=refusals,
        )

    delivery = deliver_for_step(ctx, build)
    return Outcome(result={"email_status": delivery.status})


def refusal_of(session: Session, case: Case) -> tuple[list[Explained], int]:
    """The reasons of the refusal that brought the case to ``invalid`` (Swan's codes,
    or the words of staff who recorded it by hand), each once, and how many refusals."""
    entered = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.to_state == INVALID)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    ).first()
    payload = entered.payload if entered is not None else {}
    codes = payload.get("reasons") or case.data.get("reasons") or []
    if codes:
        explained = [reason_text(str(code)) for code in codes]
    elif payload.get("reason"):
        explained = [Explained(str(payload["reason"]), reason_text(None).todo)]
    else:
        explained = [reason_text(None)]
    refusals = int(payload.get("refusals") or case.data.get("refusals") or 1)
    return list(dict.fromkeys(explained)), refusals


def _case_and_mandataire(session: Session, case_id: int) -> tuple[Case, Mandataire]:
    """The case and the mandataire whose identity it verifies (the coop's latest with
    an account before the membership was requested)."""
    case = load_case(session, case_id)
    mandataire_id = case.data.get("mandataire_id")
    mandataire = session.get(Mandataire, mandataire_id) if mandataire_id else None
    mandataire = mandataire or latest_with_account(session, case.coop_id)
    if mandataire is None:
        raise PermanentStepError(NO_MANDATAIRE)
    return case, mandataire


#: The handler of each step of the definition, by step name.
STEPS = {
    "request_identification": request_identification,
    "sync_identification": sync_identification,
    "send_reminder": send_reminder,
    "notify_verified": notify_verified,
    "notify_refused": notify_refused,
}

#: What this process sends (``templates/emails/kyc/``).
EMAILS = ("instructions", "reminder", "verified", "refused")
