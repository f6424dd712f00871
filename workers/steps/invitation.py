"""Steps of the invitation process: the invitation email, its reminders, and the
« Mot de passe perdu ? » link."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, lazyload

from workers.context import StepContext, batched
from workers.email_delivery import Delivery, deliver_for_step, deliver_for_steps
from workers.email_messages import Composed, compose
from workflows import mandataires
from workflows.engine.errors import PermanentStepError
from workflows.engine.steps import Outcome
from workflows.links import IssuedLink, NewLink
from workflows.models import Case, Email, Mandataire, Token
from workflows.processes.invitation.definition import PROCESS
from workflows.typography import de

log = logging.getLogger(__name__)

PURPOSE = "invitation"
#: The purpose of « Mot de passe perdu ? » links (the page is in ``web/portal/password_reset.py``).
RESET_PURPOSE = "reset"
RESET_VALIDITY = timedelta(hours=1)
#: At most one reset email per mandataire in this window, however often it is asked.
RESET_INTERVAL = timedelta(minutes=10)
RESET_KIND = "password_reset"
NO_MANDATAIRE = "Aucun mandataire n'est rattaché à ce dossier."


def _case_and_mandataire(session: Session, case_id: int) -> tuple[Case, Mandataire]:
    """The case and its mandataire; the case's coop and AD come with it in the same
    statement (every email shows them)."""
    case = session.scalars(
        select(Case).where(Case.id == case_id).options(joinedload(Case.coop))
    ).one_or_none()
    assert case is not None
    mandataire = session.get(Mandataire, case.data.get("mandataire_id"))
    if mandataire is None:
        raise PermanentStepError(NO_MANDATAIRE)
    return case, mandataire


def link_for(ctx: StepContext, token: Token | IssuedLink) -> str:
    """The link as stored: its token is put in when the email is sent (``Links.reveal``)."""
    return f"{ctx.services.settings.base_url}/invitation/{ctx.services.links.placeholder(token)}"


def send_invitations(
    ctxs: list[StepContext], deadline: float | None
) -> list[Outcome | Exception | None]:
    """Issue a new single-use link per step (older ones stop working) and email it: the
    emails of the steps run together stored in one transaction (their cases, coops,
    ADs and mandataires read in two statements, their links issued in two)."""
    services = ctxs[0].services
    case_of = {ctx.step.idempotency_key: ctx.step.case_id for ctx in ctxs}

    def build(session: Session, keys: list[str]) -> dict[str, Composed | Exception]:
        cases = {
            case.id: case
            for case in session.scalars(
                select(Case)
                .where(Case.id.in_({case_of[key] for key in keys}))
                .options(joinedload(Case.coop))
            )
        }
        mandataire_of: dict[int, Any] = {
            case.id: case.data.get("mandataire_id") for case in cases.values()
        }
        mandataires = {
            mandataire.id: mandataire
            for mandataire in session.scalars(
                select(Mandataire)
                .where(Mandataire.id.in_(set(mandataire_of.values())))
                .options(lazyload(Mandataire.coop))
            )
        }
        built: dict[str, Composed | Exception] = {}
        now = ctxs[0].engine.clock.now()
        wanted: list[tuple[str, Case, Mandataire]] = []
        for key in keys:
            case = cases[case_of[key]]
            mandataire = mandataires.get(mandataire_of[case.id])
            if mandataire is None:
                built[key] = PermanentStepError(NO_MANDATAIRE)
            else:
                wanted.append((key, case, mandataire))
        issued = services.links.issue_many(
            session,
            purpose=PURPOSE,
            links=[
                NewLink(
                    mandataire.id,
                    case.id,
                    now + timedelta(days=case.coop.ad.invitation_validity_days),
                )
                for _, case, mandataire in wanted
            ],
            now=now,
        )
        for (key, case, mandataire), link in zip(wanted, issued, strict=True):
            built[key] = _with_link(
                "invitation",
                "Votre compte sur la plateforme {ad} : configurez votre mot de passe",
                case,
                mandataire,
                link_for(ctxs[0], link),
                link.expires_at,
            )
        return built

    return [
        _invitation_outcome(delivery) if isinstance(delivery, Delivery) else delivery
        for delivery in deliver_for_steps(ctxs, build, deadline)
    ]


def _with_link(
    kind: str, subject: str, case: Case, mandataire: Mandataire, link: str, expires_at: Any
) -> Composed:
    """An email of the invitation carrying a personal link (kept as a placeholder until
    it is handed to the mail server); ``{ad}`` in the subject reads « de l'OCCE 06 »."""
    coop = case.coop
    return compose(
        kind,
        mandataire.email,
        subject.format(ad=de(coop.ad.name)),
        process=PROCESS,
        mandataire=mandataire,
        coop=coop,
        ad=coop.ad,
        link=link,
        expires_at=expires_at,
        case_id=case.id,
        coop_id=coop.id,
    )


def _invitation_outcome(delivery: Delivery) -> Outcome:
    if delivery.refused:
        return Outcome("bounce", payload={"email": delivery.to, "error": delivery.error or ""})
    return Outcome(result={"email_status": delivery.status})


send_invitation = batched(send_invitations)


def send_reminder(ctx: StepContext) -> Outcome:
    """Remind the mandataire with the link they already have (it stays the same)."""

    def build(session: Session) -> Composed:
        case, mandataire = _case_and_mandataire(session, ctx.step.case_id)
        now = ctx.engine.clock.now()
        token = session.scalars(
            select(Token)
            .where(
                Token.mandataire_id == mandataire.id,
                Token.purpose == PURPOSE,
                Token.used_at.is_(None),
                Token.revoked_at.is_(None),
                Token.expires_at > now,
            )
            .order_by(Token.id.desc())
            .limit(1)
        ).one_or_none()
        if token is None:
            raise PermanentStepError("Aucun lien d'invitation valide à rappeler.")
        return _with_link(
            "reminder",
            "Rappel : configurez votre compte sur la plateforme {ad}",
            case,
            mandataire,
            link_for(ctx, token),
            token.expires_at,
        )

    delivery = deliver_for_step(ctx, build)
    return Outcome(result={"email_status": delivery.status})


class _RecentlySent(Exception):
    """A reset email left less than :data:`RESET_INTERVAL` ago: this one is not sent."""


def send_password_reset(ctx: StepContext) -> Outcome:
    """Issue a reset link valid one hour (older reset links stop working) and email it;
    nothing when another reset email left less than ten minutes ago, whose link still
    works. The request itself is already in the case's history."""

    def build(session: Session) -> Composed:
        # The case row is locked first (the engine's lock order), so two requests
        # handled at once see each other's email and only one is sent.
        case = session.get(
            Case, ctx.step.case_id, with_for_update={"of": Case}, populate_existing=True
        )
        assert case is not None
        _, mandataire = _case_and_mandataire(session, case.id)
        now = ctx.engine.clock.now()
        recent = session.scalar(
            select(Email.id)
            .where(
                Email.case_id == case.id,
                Email.kind == RESET_KIND,
                Email.to_address == mandataire.email,
                Email.created_at > now - RESET_INTERVAL,
            )
            .limit(1)
        )
        if recent is not None:
            raise _RecentlySent
        token = ctx.services.links.issue(
            session,
            purpose=RESET_PURPOSE,
            mandataire_id=mandataire.id,
            case_id=case.id,
            now=now,
            expires_at=now + RESET_VALIDITY,
        )
        link = f"{ctx.services.settings.base_url}/mot-de-passe-perdu/"
        return _with_link(
            RESET_KIND,
            "Votre compte sur la plateforme {ad} : choisissez un nouveau mot de passe",
            case,
            mandataire,
            link + ctx.services.links.placeholder(token),
            token.expires_at,
        )

    try:
        delivery = deliver_for_step(ctx, build)
    except _RecentlySent:
        log.info("password reset email not sent: one left recently", extra=ctx.log_extra)
        return Outcome(result={"email_status": "not_sent", "reason": "recently_sent"})
    return Outcome(result={"email_status": delivery.status})


def end_access(ctx: StepContext) -> Outcome:
    """The invitation was cancelled: its mandataire's account logs in no more, its
    sessions end, its links stop working (once, however often the step runs)."""
    with ctx.engine.transaction() as tx:
        case = tx.session.get(Case, ctx.step.case_id)
        assert case is not None
        mandataire_id = case.data.get("mandataire_id")
        ended = mandataire_id is not None and mandataires.end_access(
            tx.session, int(mandataire_id), now=tx.now
        )
    return Outcome(result={"access_ended": ended})


#: The handler of each step of the definition, by step name.
STEPS = {
    "send_invitation": send_invitation,
    "send_reminder": send_reminder,
    "send_password_reset": send_password_reset,
    "end_access": end_access,
}

#: What this process sends (``templates/emails/invitation/``).
EMAILS = ("invitation", "reminder", RESET_KIND)
