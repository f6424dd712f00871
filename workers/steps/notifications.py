"""« Une démarche vous attend »: the email telling a mandataire their space needs them.

Sent by any process whose state has a ``mandataire_action``; never more than one a day
per coop, whatever the processes (the coop's row is locked while deciding, so two
processes notifying at once still send one).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workers.context import StepContext
from workers.email_delivery import deliver_for_step
from workers.email_messages import Composed, compose
from workflows.engine.steps import Outcome
from workflows.mandataires import latest_with_account
from workflows.models import Case, Coop, Email

KIND = "notification"
#: At most one notification per coop in this window.
QUIET = timedelta(hours=24)


class _Throttled(Exception):
    """A notification went to this coop less than a day ago."""


def notify_mandataire(ctx: StepContext) -> Outcome:
    def build(session: Session) -> Composed:
        case = session.get(Case, ctx.step.case_id)
        assert case is not None
        # Lock the coop's row alone (its AD is joined on load: no FOR UPDATE on that).
        session.execute(select(Coop.id).where(Coop.id == case.coop_id).with_for_update())
        coop = session.get(Coop, case.coop_id)
        assert coop is not None
        now = ctx.engine.clock.now()
        recent = session.scalar(
            select(Email.id)
            .where(Email.coop_id == coop.id, Email.kind == KIND, Email.created_at > now - QUIET)
            .limit(1)
        )
        if recent is not None:
            raise _Throttled
        mandataire = latest_with_account(session, coop.id)
        if mandataire is None:
            raise _Throttled  # nobody can act yet: the checklist shows it at first login
        definition = ctx.engine.definition(case.process)
        state = definition.state_by_name[case.state]
        path = definition.portal_path or "/mon-espace"
        return compose(
            KIND,
            mandataire.email,
            f"{coop.name} : « {definition.title} » vous attend",
            mandataire=mandataire,
            coop=coop,
            ad=coop.ad,
            title=definition.title,
            action=state.mandataire_action or "Ouvrir mon espace",
            link=f"{ctx.services.settings.base_url}{path}",
            case_id=case.id,
            coop_id=coop.id,
        )

    try:
        delivery = deliver_for_step(ctx, build)
    except _Throttled:
        return Outcome(result={"email_status": "throttled"})
    return Outcome(result={"email_status": delivery.status})
