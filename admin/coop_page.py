"""The coop's page, ``/admin/cooperatives/<id>``: the coop and its mandataires, every
case of the coop, its documents, emails and tasks, and the picture of its processes and
their dependencies with where the coop stands in each.

Mixed into the « Coopératives » list (:class:`admin.coops.CoopView`), whose address it
extends. Scoped like a case page: another AD's coop is « not found ».
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort
from flask_admin import expose
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer, joinedload, selectinload

from admin.access import ad_condition, case_condition, staff
from admin.coop_diagram import COLOURS, coop_svg
from admin.coop_processes import Status, coop_processes, stuck_title
from admin.emails import KINDS, STATUSES
from web.portal.documents import attachment, kept_document
from web.runtime import runtime
from workflows.engine.cross_process import school_year_label
from workflows.engine.definition import Definition
from workflows.models import Case, Coop, Document, Email, Task, TaskStatus
from workflows.processes.space_check.coop_details import LOGO_KIND

#: Most emails and closed tasks shown (the newest): a coop has a few dozen in a year.
SHOWN = 200
TASK_STATUSES = {
    TaskStatus.OPEN.value: "à faire",
    TaskStatus.DONE.value: "faite",
    TaskStatus.CANCELLED.value: "annulée",
}


@dataclass(frozen=True)
class CaseLine:
    """One case of the coop as a line of its page."""

    case: Case
    process: str
    state: str
    #: The stuck reason in a few words (« Invitation expirée »), if stuck.
    stuck: str | None
    school_year: str | None


class CoopPage:
    """Mixed into a Flask-Admin view of coops before it: the coop's page and the
    download of its documents, for staff who see its AD."""

    session: Any

    def _visible_coop(self, coop_id: int) -> Coop:
        coop = self.session.scalars(
            select(Coop)
            .where(Coop.id == coop_id, ad_condition(staff()))
            .options(selectinload(Coop.mandataires))
        ).one_or_none()
        if coop is None:
            abort(404)
        return coop  # type: ignore[no-any-return]

    @expose("/<int:coop_id>")
    def coop_page(self, coop_id: int) -> Any:
        view: Any = self  # the ModelView this is mixed into
        session: Session = self.session
        coop = self._visible_coop(coop_id)
        engine = runtime().engine
        definitions = engine.definitions
        now = engine.clock.now()
        cases = list(
            session.scalars(
                select(Case)
                .where(Case.coop_id == coop.id, case_condition(staff()))
                .options(joinedload(Case.assignee))
                .order_by(Case.created_at.desc(), Case.id.desc())
            )
        )
        statuses = coop_processes(session, coop.id, cases, definitions, now)
        case_ids = [c.id for c in cases]
        tasks = list(
            session.scalars(
                select(Task)
                .where(Task.case_id.in_(case_ids))
                .options(joinedload(Task.assignee))
                .order_by(Task.due_at, Task.id)
            )
        )
        open_tasks = [t for t in tasks if t.status == TaskStatus.OPEN.value]
        closed_tasks = sorted(
            (t for t in tasks if t.status != TaskStatus.OPEN.value),
            key=lambda t: (t.closed_at or t.created_at, t.id),
            reverse=True,
        )
        emails = list(
            session.scalars(
                select(Email)
                .where(or_(Email.coop_id == coop.id, Email.case_id.in_(case_ids)))
                .order_by(Email.created_at.desc(), Email.id.desc())
                .limit(SHOWN + 1)
            )
        )
        documents = list(
            session.scalars(
                select(Document)
                .where(Document.coop_id == coop.id, Document.kind != LOGO_KIND)
                .options(defer(Document.content))
                .order_by(Document.created_at.desc(), Document.id.desc())
            )
        )
        return view.render(
            "coopflow_admin/coop.html",
            coop=coop,
            mandataires=sorted(coop.mandataires, key=lambda m: m.id, reverse=True),
            cases=[_line(c, definitions) for c in cases],
            processes=statuses,
            diagram=coop_svg(statuses, definitions, coop.name),
            legend=[(status, status.label, COLOURS[status]) for status in Status],
            open_tasks=open_tasks,
            closed_tasks=closed_tasks[:SHOWN],
            more_closed_tasks=len(closed_tasks) > SHOWN,
            emails=emails[:SHOWN],
            more_emails=len(emails) > SHOWN,
            documents=documents,
            process_titles={name: d.title for name, d in definitions.items()},
            email_statuses=STATUSES,
            email_kinds=KINDS,
            task_statuses=TASK_STATUSES,
            can_edit=staff().can_act,
            now=now,
        )

    @expose("/<int:coop_id>/documents/<int:document_id>")
    def coop_document(self, coop_id: int, document_id: int) -> Any:
        """A document of the coop, as its mandataire downloads it from the portal."""
        coop = self._visible_coop(coop_id)
        document = kept_document(self.session, coop.id, document_id)
        if document is None:
            abort(404)
        return attachment(document)


def _line(case: Case, definitions: dict[str, Definition]) -> CaseLine:
    year = school_year_label(case.school_year) if case.school_year is not None else None
    definition = definitions.get(case.process)
    if definition is None:  # a process this version no longer runs
        return CaseLine(case, case.process, case.state, case.stuck_reason, year)
    state = definition.state_by_name.get(case.state)
    stuck = stuck_title(definition, case.stuck_reason) if case.stuck_reason else None
    return CaseLine(case, definition.title, state.label if state else case.state, stuck, year)
