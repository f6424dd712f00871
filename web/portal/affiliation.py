"""« Affiliation de l'année » (seed 004): the coop's yearly membership of its AD.

The mandataire sees this school year's case: where it stands, what the AD sent back
and why, the classes and the fee declared, and the documents of the year (the
commitment to sign, the attestations once validated)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from web.auth import mandataire_required
from web.portal.checklist import waiting_reasons
from web.runtime import runtime
from workflows.engine.cross_process import school_year_label, school_year_of
from workflows.models import Case, Coop, Document
from workflows.processes.affiliation import calendar
from workflows.processes.affiliation.definition import DEFINITION, EDITABLE, PROCESS
from workflows.processes.affiliation.fee import Fee
from workflows.processes.affiliation.form import form_of, payment_reference

bp = Blueprint("affiliation", __name__)

#: The page of each state where the mandataire acts (checked at start: coopflow.house).
PAGES = {state: "portal.affiliation.page" for state in EDITABLE}


@bp.get("/mon-espace/adhesion")
@mandataire_required
def page():  # type: ignore[no-untyped-def]
    rt = runtime()
    now = rt.engine.clock.now()
    with rt.db.read() as session:
        coop = session.get(Coop, current_user.coop_id)
        case = affiliation_case(session, current_user.coop_id, school_year_of(now))
        year = case.school_year if case is not None else school_year_of(now)
        data = (case.data or {}) if case is not None else {}
        return render_template(
            "portal/affiliation/page.html",
            case=case,
            coop=coop,
            year_label=school_year_label(year),
            state_label=DEFINITION.portal_label(case.state) if case else None,
            waiting=waiting_reasons(session, current_user.coop_id, DEFINITION, now),
            form=form_of(data),
            fee=Fee.from_data(data["fee"]) if "fee" in data else None,
            deadline=calendar.deadline_of(case, session) if case is not None else None,
            reference=payment_reference(year, coop.affiliation_number) if coop else "",
            documents=documents_of(session, case) if case is not None else [],
        )


def affiliation_case(session: Session, coop_id: int, year: int) -> Case | None:
    """The coop's affiliation case of school year ``year``, if it has one."""
    return session.scalars(
        select(Case)
        .where(Case.coop_id == coop_id, Case.process == PROCESS, Case.school_year == year)
        .order_by(Case.id.desc())
        .limit(1)
    ).first()


def documents_of(session: Session, case: Case) -> list[Document]:
    """The case's documents, newest first (a commitment per submission)."""
    return list(
        session.scalars(
            select(Document)
            .where(Document.case_id == case.id)
            .options(defer(Document.content))
            .order_by(Document.created_at.desc(), Document.id.desc())
        )
    )
