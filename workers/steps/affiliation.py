"""Steps of ``affiliation``: the opening of a coop's school year (last year's classes
carried over, last year's unfinished case closed), its documents (the commitment at
submission, the two attestations at validation: :mod:`workers.steps.affiliation_documents`)
and the emails to the mandataire.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from workers.context import StepContext, batched
from workers.email_delivery import Delivery, deliver_for_steps
from workers.email_messages import Composed
from workers.steps.affiliation_documents import render_attestations, render_commitment
from workers.steps.case_emails import case_email
from workflows.engine.actor import Actor
from workflows.engine.cross_process import school_year_label
from workflows.engine.errors import PermanentStepError
from workflows.engine.steps import Outcome
from workflows.mandataires import latest_with_account_of
from workflows.models import Case, Coop
from workflows.processes.affiliation import calendar
from workflows.processes.affiliation.definition import (
    DEFINITION,
    EDITABLE,
    PROCESS,
    VALIDATED,
)
from workflows.processes.affiliation.fee import Fee
from workflows.processes.affiliation.form import AffiliationForm, form_of

log = logging.getLogger(__name__)

NO_MANDATAIRE = "Aucun mandataire de cette coopérative n'a encore de compte sur la plateforme."


def open_year(ctx: StepContext) -> Outcome:
    """The case's year begins: the classes of the coop's last validated affiliation are
    carried over (names, teachers, counts: the mandataire corrects them), and its earlier
    cases still open are closed. Run twice, it changes nothing the second time."""
    with ctx.engine.transaction() as tx:
        case = tx.lock(ctx.step.case_id)
        data = dict(case.data or {})
        if data.get("opened"):
            return Outcome(result={"carried_from": data.get("carried_from")})
        earlier = tx.session.scalars(
            select(Case)
            .where(
                Case.coop_id == case.coop_id,
                Case.process == PROCESS,
                Case.school_year < (case.school_year or 0),
            )
            .order_by(Case.school_year.desc(), Case.id.desc())
        ).all()
        source = next((c for c in earlier if c.state == VALIDATED), None)
        if source is not None and not form_of(data).classes:
            carried = form_of(source.data or {})
            data["form"] = AffiliationForm(classes=carried.classes).to_data()
            data["carried_from"] = source.id
        data["opened"] = True
        case.data = data
        closed = []
        for old in earlier:
            if old.state in EDITABLE:
                tx.fire(
                    old.id,
                    "close_year",
                    actor=Actor.system("nouvelle année scolaire"),
                    comment=f"L'année {school_year_label(case.school_year or 0)} commence "
                    f"(dossier {case.id}).",
                )
                closed.append(old.id)
        return Outcome(result={"carried_from": data.get("carried_from"), "closed": closed})


def _portal_link(ctx: StepContext) -> str:
    return f"{ctx.services.settings.base_url}{DEFINITION.portal_path}"


def _emails(kind: str, subject: str, *, gather: int = 0) -> Callable[[StepContext], Outcome]:
    """The step that sends the mandataire the email ``kind`` of their case, the steps of
    a batch together: their cases, coops and mandataires read in three queries, the
    messages handed to the mail server on one connection."""

    def batch(ctxs: list[StepContext], deadline: float | None) -> list[Outcome | Exception | None]:
        steps = {ctx.step.idempotency_key: ctx for ctx in ctxs}

        def build(session: Session, keys: list[str]) -> dict[str, Composed | Exception]:
            ids = [steps[key].step.case_id for key in keys]
            cases = {
                c.id: c
                for c in session.scalars(
                    select(Case)
                    .where(Case.id.in_(ids))
                    .options(joinedload(Case.coop).joinedload(Coop.ad))
                )
            }
            people = latest_with_account_of(session, [c.coop_id for c in cases.values()])
            built: dict[str, Composed | Exception] = {}
            for key in keys:
                case = cases[steps[key].step.case_id]
                person = people.get(case.coop_id)
                if person is None:
                    built[key] = PermanentStepError(NO_MANDATAIRE)
                    continue
                year = school_year_label(case.school_year or 0)
                data = case.data or {}
                built[key] = case_email(
                    PROCESS,
                    kind,
                    subject.replace("{year}", year),
                    case,
                    person,
                    link=_portal_link(steps[key]),
                    year_label=year,
                    deadline=calendar.deadline_of(case, session).strftime("%d/%m/%Y"),
                    total=Fee.from_data(data["fee"]).total if "fee" in data else "",
                    comment=data.get("returned_comment", ""),
                )
            return built

        return [
            Outcome(result={"email_status": d.status}) if isinstance(d, Delivery) else d
            for d in deliver_for_steps(ctxs, build, deadline)
        ]

    return batched(batch, gather=gather)


#: The affiliation waits on the mandataire: its deadline, or that it is late.
send_reminder = _emails("reminder", "Adhésion {year} de {coop} : à envoyer à votre AD")
#: Staff sent it back: their comment, and where to correct it.
notify_returned = _emails(
    "returned", "Adhésion {year} de {coop} : votre AD vous demande une correction"
)
#: Validated: where the attestations are. In September, one validation after another:
#: a message takes along the others due.
notify_validated = _emails(
    "validated", "Adhésion {year} de {coop} validée : vos attestations", gather=20
)


#: The handler of each step of the definition, by step name.
STEPS = {
    "open_year": open_year,
    "render_commitment": render_commitment,
    "render_attestations": render_attestations,
    "send_reminder": send_reminder,
    "notify_returned": notify_returned,
    "notify_validated": notify_validated,
}

#: What this process sends (``templates/emails/affiliation/``).
EMAILS = ("reminder", "returned", "validated")
