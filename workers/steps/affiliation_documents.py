"""The affiliation's documents, rendered by its steps: the *engagement du mandataire*
at submission, the *attestation d'adhésion* and the *attestation d'assurance* at
validation. Each carries a verification code anyone can check at ``/verification``.

The steps of one kind that a message carries together are rendered in one WeasyPrint
pass (:func:`workers.documents.store_documents`): in September tens of thousands of
them are rendered in a few days, and a render's fixed cost dominates a one-page
attestation. A document is stored under its step's idempotency key: a step run twice
stores it once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from workers.context import BatchHandler, StepContext, batched
from workers.documents import Draft, new_verification_code, store_documents
from workflows.engine.cross_process import school_year_label
from workflows.engine.errors import PermanentStepError
from workflows.engine.steps import Outcome
from workflows.formatting import date_fr
from workflows.mandataires import latest_with_account_of
from workflows.models import Case, Coop, Mandataire
from workflows.processes.affiliation.fee import Fee
from workflows.processes.affiliation.form import PAYMENT, form_of, payment_reference

NO_FEE = "L'adhésion n'a pas de montant figé : elle n'a pas été envoyée par le portail."

#: Each document: its template (``templates/documents/affiliation/``), title, file name.
PAPERS = {
    "commitment": ("Engagement du mandataire", "engagement-mandataire"),
    "attestation_adhesion": ("Attestation d'adhésion", "attestation-adhesion"),
    "attestation_assurance": ("Attestation d'assurance", "attestation-assurance"),
}


def verification_url(ctx: StepContext, code: str) -> str:
    return f"{ctx.services.settings.base_url}/verification?code={code}"


def _check_fee(case: Case) -> None:
    if "fee" not in (case.data or {}):
        raise PermanentStepError(NO_FEE)


def _context(ctx: StepContext, case: Case, person: Mandataire | None) -> dict[str, Any]:
    """What the case's documents show (each adds its own verification code)."""
    _check_fee(case)
    data = case.data or {}
    coop = case.coop
    year = case.school_year or 0
    payment = dict((data.get("checks") or {}).get(PAYMENT) or {})
    if payment.get("received_on"):
        payment["received_on"] = date.fromisoformat(payment["received_on"]).strftime("%d/%m/%Y")
    return {
        "ad": coop.ad,
        "coop": coop,
        "school_year_label": school_year_label(year),
        "form": form_of(data),
        "fee": Fee.from_data(data["fee"]),
        "reference": payment_reference(year, coop.affiliation_number),
        "mandataire_name": person.full_name if person else "",
        "issued_on": date_fr(ctx.engine.clock.now()),
        "validated_on": date_fr(case.state_entered_at),
        "payment": payment,
    }


class _Cases:
    """The cases of a batch's steps with their coops, ADs and mandataires, read in three
    queries the first time a session asks (the documents are built in one session)."""

    def __init__(self, case_ids: list[int]) -> None:
        self.case_ids = case_ids
        self._session: Session | None = None
        self._read: dict[int, tuple[Case, Mandataire | None]] = {}

    def get(self, session: Session, case_id: int) -> tuple[Case, Mandataire | None]:
        if session is not self._session:
            cases = session.scalars(
                select(Case)
                .where(Case.id.in_(self.case_ids))
                .options(joinedload(Case.coop).joinedload(Coop.ad))
            ).all()
            people = latest_with_account_of(session, [c.coop_id for c in cases])
            self._read = {c.id: (c, people.get(c.coop_id)) for c in cases}
            self._session = session
        found = self._read.get(case_id)
        if found is None:
            raise PermanentStepError(f"Le dossier {case_id} n'existe plus.")
        return found


def _drafts(
    ctx: StepContext, kinds: tuple[str, ...], cases: _Cases
) -> list[tuple[str, Callable[[Session], Draft]]]:
    """The documents one step stores, each under a key of its own (the step's); the
    case's context is made once for all of them."""
    wanted: list[tuple[str, Callable[[Session], Draft]]] = []
    made: list[tuple[Session, dict[str, Any]]] = []

    def shared(session: Session) -> tuple[Case, dict[str, Any]]:
        case, person = cases.get(session, ctx.step.case_id)
        if not made or made[0][0] is not session:
            made[:] = [(session, _context(ctx, case, person))]
        return case, made[0][1]

    for kind in kinds:
        title, stem = PAPERS[kind]

        def build(
            session: Session, kind: str = kind, title: str = title, stem: str = stem
        ) -> Draft:
            case, context = shared(session)
            code = new_verification_code()
            year = school_year_label(case.school_year or 0)
            return Draft(
                template=f"affiliation/{kind}",
                context={
                    **context,
                    "verification_code": code,
                    "verification_url": verification_url(ctx, code),
                },
                coop_id=case.coop_id,
                case_id=case.id,
                kind=kind,
                title=f"{title} {year}",
                filename=f"{stem}-{year}-{case.coop.affiliation_number}.pdf",
                verification_code=code,
            )

        key = ctx.step.idempotency_key if len(kinds) == 1 else f"{ctx.step.idempotency_key}:{kind}"
        wanted.append((key, build))
    return wanted


def _render(kinds: tuple[str, ...]) -> BatchHandler:
    def batch(ctxs: list[StepContext], deadline: float | None) -> list[Outcome | Exception | None]:
        """Render the documents of every step of the batch in one pass; a step whose
        case cannot have them (no frozen fee) fails alone."""
        results: list[Outcome | Exception | None] = []
        wanted: list[tuple[str, Callable[[Session], Draft]]] = []
        owners: list[int] = []
        case_ids = [ctx.step.case_id for ctx in ctxs]
        cases = _Cases(case_ids)
        with ctxs[0].engine.db.read() as session:
            rows = session.execute(select(Case.id, Case.data).where(Case.id.in_(case_ids)))
            fees = {case_id: "fee" in (data or {}) for case_id, data in rows}
        for i, ctx in enumerate(ctxs):
            if not fees.get(ctx.step.case_id):
                results.append(PermanentStepError(NO_FEE))
                continue
            results.append(None)
            for item in _drafts(ctx, kinds, cases):
                wanted.append(item)
                owners.append(i)
        ids = store_documents(ctxs[0].engine, wanted) if wanted else []
        stored: dict[int, list[int]] = {}
        for owner, document_id in zip(owners, ids, strict=True):
            stored.setdefault(owner, []).append(document_id)
        return [
            result if result is not None else Outcome(result={"documents": stored[i]})
            for i, result in enumerate(results)
        ]

    return batch


#: Steps rendered together when they were queued one by one (a pass of WeasyPrint for
#: twenty documents costs a third of twenty passes: docs/performance.md, B6).
GATHER = 20
render_commitment = batched(_render(("commitment",)), gather=GATHER)
render_attestations = batched(
    _render(("attestation_adhesion", "attestation_assurance")), gather=GATHER // 2
)
