"""What the steps of ``banque_postale_transfer`` and ``emergency_advance`` share: their
letters and contracts (full HTML documents under ``templates/documents/``, each alone in
its WeasyPrint pass: a few a day, unlike the affiliation's attestations), the amounts
they write in figures and in words, the AD's president who signs for OCCE, what their
cases keep, and their emails to the coop's mandataire.

A document is stored under its step's idempotency key, with a verification code anyone
may check at ``/verification``, and its id kept in the case (``case.data[<key>]
["document_id"]``, as the definitions document it): a step run twice stores it once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workers.context import StepContext
from workers.documents import Draft, new_verification_code, store_document
from workers.email_delivery import deliver_for_step
from workers.email_messages import Composed
from workers.steps.affiliation_documents import verification_url
from workers.steps.case_emails import case_email, load_case
from workflows.engine.definition import Definition
from workflows.engine.errors import PermanentStepError
from workflows.engine.steps import Outcome
from workflows.formatting import date_fr, euros
from workflows.mandataires import latest_with_account
from workflows.models import Case, CaseEvent, StaffRole, StaffUser
from workflows.money import in_words
from workflows.processes.iban.rib_checks import parse_iban

NO_MANDATAIRE = "Aucun mandataire de cette coopérative n'a encore de compte sur la plateforme."
#: The officer who signs for OCCE (``staff_users.officer_role``).
PRESIDENT = "president"


@dataclass(frozen=True)
class Amount:
    """An amount as a letter writes it: « 1 800,00 € (mille huit cents euros) »."""

    cents: int

    @property
    def figures(self) -> str:
        return euros(self.cents)

    @property
    def words(self) -> str:
        return in_words(self.cents)

    def __str__(self) -> str:
        return f"{self.figures} ({self.words})"


def cents_of(value: Any) -> int | None:
    """An amount a case keeps (integer cents), or ``None`` when it is not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def grouped_iban(iban: str) -> str:
    """The whole IBAN in groups of four, as a bank reads it (« FR76 3000 6000 … »)."""
    parsed, _ = parse_iban(iban)
    return parsed.formatted if parsed is not None else iban


def day_of(iso: Any) -> str:
    """« 15/03/2027 » from a day a case keeps (« 2027-03-15 »); empty when it is none."""
    try:
        return date.fromisoformat(str(iso)).strftime("%d/%m/%Y")
    except ValueError:
        return ""


def moment_of(iso: Any) -> datetime | None:
    """A time a case keeps (UTC ISO), as a datetime (shown in Paris by ``datetime_fr``)."""
    try:
        return datetime.fromisoformat(str(iso))
    except ValueError:
        return None


def kept(
    session: Session, case: Case, key: str, trigger: str, *, within: str | None = None
) -> dict[str, Any]:
    """What the case keeps under ``key`` (written with ``trigger`` by whoever fired it),
    else what the last ``trigger`` carried (its payload, or its ``within`` entry): the
    same facts, as the history has them."""
    value = (case.data or {}).get(key)
    if isinstance(value, dict) and value:
        return dict(value)
    payload = session.scalars(
        select(CaseEvent.payload)
        .where(CaseEvent.case_id == case.id, CaseEvent.trigger == trigger)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    ).first()
    found = (payload or {}).get(within) if within else payload
    return dict(found) if isinstance(found, dict) else {}


def president_name(session: Session, ad_id: int) -> str | None:
    """The AD's president as the platform knows them (an active officer), if any."""
    return session.scalars(
        select(StaffUser.full_name)
        .where(
            StaffUser.ad_id == ad_id,
            StaffUser.officer_role == PRESIDENT,
            StaffUser.is_active.is_(True),
            StaffUser.role != StaffRole.READONLY.value,
        )
        .order_by(StaffUser.id)
        .limit(1)
    ).first()


def mandataire_name(session: Session, case: Case, typed: Any = None) -> str:
    """Who acts for the coop on a paper: the name recorded with the case's data when
    there is one, else the coop's mandataire with an account."""
    if str(typed or "").strip():
        return str(typed).strip()
    person = latest_with_account(session, case.coop_id)
    if person is None:
        raise PermanentStepError(NO_MANDATAIRE)
    return person.full_name


def paper_context(ctx: StepContext, session: Session, case: Case) -> dict[str, Any]:
    """What every letter and contract shows: the AD (letterhead), the coop, the AD's
    president (signature block) and the day it is issued (Paris)."""
    coop = case.coop
    return {
        "ad": coop.ad,
        "coop": coop,
        "president": president_name(session, coop.ad_id),
        "issued_on": date_fr(ctx.engine.clock.now()),
    }


@dataclass(frozen=True)
class Paper:
    """A kind of document a step renders: its template, title and file name's stem."""

    template: str
    kind: str
    title: str
    stem: str

    def draft(self, ctx: StepContext, case: Case, context: dict[str, Any]) -> Draft:
        """The draft of this paper for ``case``, with a fresh verification code."""
        code = new_verification_code()
        return Draft(
            template=self.template,
            context={
                **context,
                "verification_code": code,
                "verification_url": verification_url(ctx, code),
            },
            coop_id=case.coop_id,
            case_id=case.id,
            kind=self.kind,
            title=self.title,
            filename=f"{self.stem}-{case.coop.affiliation_number}-{case.id}.pdf",
            verification_code=code,
        )


def render_paper(ctx: StepContext, data_key: str, build: Callable[[Session], Draft]) -> Outcome:
    """Store the step's document (built, rendered and stored the first time only) and
    keep its id in the case under ``data_key``."""
    document_id = store_document(ctx.engine, key=ctx.step.idempotency_key, build=build)
    with ctx.engine.transaction() as tx:
        case = tx.lock(ctx.step.case_id)
        data = dict(case.data or {})
        entry = dict(data.get(data_key) or {})
        if entry.get("document_id") != document_id:
            data[data_key] = {**entry, "document_id": document_id}
            case.data = data
    return Outcome(result={"document_id": document_id})


def portal_link(ctx: StepContext, definition: Definition) -> str:
    return f"{ctx.services.settings.base_url}{definition.portal_path}"


def mandataire_email(
    ctx: StepContext,
    definition: Definition,
    kind: str,
    subject: str,
    context: Callable[[Session, Case], dict[str, Any]] | None = None,
) -> Outcome:
    """Send the coop's mandataire the email ``kind`` of the process once, with the link
    to its portal page; ``context`` adds what the email says (it raises
    :class:`PermanentStepError` when the case lacks it: nothing is sent)."""

    def build(session: Session) -> Composed:
        case = load_case(session, ctx.step.case_id)
        person = latest_with_account(session, case.coop_id)
        if person is None:
            raise PermanentStepError(NO_MANDATAIRE)
        extra = context(session, case) if context is not None else {}
        return case_email(
            definition.name,
            kind,
            subject,
            case,
            person,
            link=portal_link(ctx, definition),
            **extra,
        )

    delivery = deliver_for_step(ctx, build)
    return Outcome(result={"email_status": delivery.status})
