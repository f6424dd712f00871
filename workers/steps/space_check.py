"""Steps of ``space_check``: the summary PDF of a checked space."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workers.context import StepContext
from workers.documents import Draft, store_document
from workers.steps.notifications import notify_mandataire
from workflows.engine.steps import Outcome
from workflows.mandataires import with_account
from workflows.models import Case, CaseEvent
from workflows.processes.iban.accounts import certified_account, shown


def render_space_summary(ctx: StepContext) -> Outcome:
    """« Tout est correct »: what the mandataire confirmed, kept as a PDF."""

    def build(session: Session) -> Draft:
        case = session.get(Case, ctx.step.case_id)
        assert case is not None
        coop = case.coop
        confirmed = session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.trigger == "confirm")
            .order_by(CaseEvent.id.desc())
            .limit(1)
        ).first()
        who = confirmed.actor.partition(" ")[2] if confirmed else "Le mandataire"
        return Draft(
            template="space_check/space_summary",
            context={
                "coop": coop,
                "ad": coop.ad,
                "administrators": with_account(session, coop.id),
                "bank_account": _bank_account(session, coop.id),
                "confirmed_by": who,
                "confirmed_at": confirmed.at if confirmed else ctx.engine.clock.now(),
            },
            coop_id=coop.id,
            case_id=case.id,
            kind="space_summary",
            title="Vérification de l'espace",
            filename=f"verification-espace-{coop.affiliation_number}.pdf",
        )

    document_id = store_document(ctx.engine, key=ctx.step.idempotency_key, build=build)
    return Outcome(result={"document_id": document_id})


def _bank_account(session: Session, coop_id: int) -> str | None:
    account = certified_account(session, coop_id)
    return f"Compte certifié : {shown(account)}" if account else None


#: The handler of each step of the definition, by step name.
STEPS = {
    "notify_mandataire": notify_mandataire,
    "render_space_summary": render_space_summary,
}

#: What this process renders (``templates/documents/space_check/``).
DOCUMENTS = ("space_summary",)
