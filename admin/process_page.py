"""« Processus »: a page per process definition, ``/admin/processus/<process>``: its
diagram with, on each state, how many cases of the staff member's scope are in it (and
how many of those are stuck), each state a link to the case list filtered on it; the
same figures in a table below (links a screen reader reaches, and a phone reads
without scrolling the picture). National staff may narrow it to one AD.

Two ``GROUP BY`` per page, over the indexes the lists use (``ix_cases_process_state``,
``ix_cases_ad_process_state``; the stuck rows by their partial indexes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, request, url_for
from flask_admin import BaseView, expose
from sqlalchemy import func, select

from admin.access import StaffView, staff
from admin.diagrams import StateCount, number_fr, process_map_svg
from web.auth import StaffPrincipal
from workflows.engine.definition import Definition
from workflows.models import AD, Case
from workflows.scope import case_condition


@dataclass(frozen=True)
class StateLine:
    """One state of the process as a line of the page's table."""

    name: str
    label: str
    count: StateCount
    #: The stuck ones among them, in the « Cas bloqués » list (``None``: none stuck).
    stuck_url: str | None
    stuck_state: bool
    final: bool


def count_by_state(
    session: Any, principal: StaffPrincipal, process: str, ad_id: int | None = None
) -> tuple[dict[str, int], dict[str, int]]:
    """(cases, stuck cases) by state of ``process`` in ``principal``'s scope (and AD)."""
    where = [case_condition(principal), Case.process == process]
    if ad_id is not None:
        where.append(Case.ad_id == ad_id)
    cases = select(Case.state, func.count()).where(*where).group_by(Case.state)
    stuck = (
        select(Case.state, func.count())
        .where(*where, Case.stuck_since.is_not(None))
        .group_by(Case.state)
    )
    return (
        {state: n for state, n in session.execute(cases)},
        {state: n for state, n in session.execute(stuck)},
    )


class ProcessView(StaffView, BaseView):
    """« Processus »: the processes, and a page for each with its cases state by state."""

    def __init__(self, session: Any, definitions: dict[str, Definition], **kwargs: Any) -> None:
        self.session = session
        self.definitions = definitions
        super().__init__(**kwargs)

    def _ad(self, principal: StaffPrincipal) -> AD | None:
        """The AD national staff chose (``?ad=AD06``); nobody else chooses."""
        code = request.args.get("ad", "").strip().upper()[:10]
        if not code or not principal.is_national:
            return None
        return self.session.scalars(select(AD).where(AD.code == code)).one_or_none()

    @expose("/")
    def index(self) -> Any:
        principal = staff()
        totals = dict(
            self.session.execute(
                select(Case.process, func.count())
                .where(case_condition(principal))
                .group_by(Case.process)
            ).all()
        )
        processes = [(d, totals.get(name, 0)) for name, d in self.definitions.items()]
        return self.render("coopflow_admin/processes.html", processes=processes, n=number_fr)

    @expose("/<process>")
    def process_page(self, process: str) -> Any:
        definition = self.definitions.get(process)
        if definition is None:
            abort(404)
        principal = staff()
        ad = self._ad(principal)
        cases, stuck = count_by_state(
            self.session, principal, process, ad.id if ad is not None else None
        )
        ad_arg = {"ad": ad.code} if ad is not None else {}
        lines = []
        for state in definition.states:
            value = f"{process}.{state.name}"
            count = StateCount(
                cases.get(state.name, 0),
                stuck.get(state.name, 0),
                url_for("cases.index_view", etat=value, **ad_arg),
            )
            stuck_url = url_for("admin.index", etat=value, **ad_arg) if count.stuck else None
            lines.append(
                StateLine(
                    state.name,
                    state.label,
                    count,
                    stuck_url,
                    state.stuck is not None,
                    state.final,
                )
            )
        # Cases still in a state an earlier version had (before ``migrate-cases``).
        others = [
            (state, n, url_for("cases.index_view", etat=f"{process}.{state}", **ad_arg))
            for state, n in sorted(cases.items())
            if state not in definition.state_by_name
        ]
        ads = (
            list(self.session.scalars(select(AD).order_by(AD.code)))
            if principal.is_national
            else []
        )
        return self.render(
            "coopflow_admin/process.html",
            definition=definition,
            diagram=process_map_svg(definition, {line.name: line.count for line in lines}),
            lines=lines,
            others=others,
            total=sum(cases.values()),
            total_stuck=sum(stuck.values()),
            ads=ads,
            ad=ad,
            all_url=url_for("cases.index_view", processus=process, **ad_arg),
            stuck_all_url=url_for("admin.index", processus=process, **ad_arg),
            n=number_fr,
        )
