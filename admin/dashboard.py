"""« Tableau de bord »: where the coops stand in each process, why cases are stuck, and
what has waited longest, for the staff member's scope (national: each AD and the total).

Every figure comes from a few grouped queries over indexed columns, never one query per
row, so the page costs the same at 500,000 cases: the funnel counts cases by
(ad_id, process, state) (``ix_cases_ad_process_state``), the stuck counts group the
stuck rows only, and the oldest lists are LIMITed index scans (``ix_cases_*stuck_since``,
``ix_tasks_*``) with their coops joined in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from babel.numbers import format_decimal
from flask import url_for
from flask_admin import Admin, BaseView, expose
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import joinedload

from admin.access import StaffView, staff
from admin.diagrams import is_wildcard
from admin.queries import stuck_rules
from web.auth import StaffPrincipal
from web.runtime import runtime
from workflows.engine.definition import Definition
from workflows.models import AD, Case, Task, TaskStatus
from workflows.scope import case_condition, task_condition

#: How many rows the « oldest waiting » lists show.
OLDEST = 10


# The funnel's order ---------------------------------------------------------------


def happy_path(definition: Definition) -> list[str]:
    """The states a case goes through when all goes well, in order.

    The longest way from the initial state to a final one that avoids the states where a
    case is stuck and the transitions allowed from anywhere (cancel); transitions going
    back (resend) are left out first, so the search is linear. Ties go to the first
    transition in the definition.
    """
    stuck = {s.name for s in definition.states if s.stuck is not None}
    forward: dict[str, list[str]] = {s.name: [] for s in definition.states}
    for t in definition.transitions:
        if t.dest is None or t.dest in stuck or is_wildcard(definition, t):
            continue
        for source in t.sources:
            if t.dest not in forward[source]:
                forward[source].append(t.dest)

    # Depth-first from the initial state, dropping edges back to a state on the stack.
    dag: dict[str, list[str]] = {}
    on_stack: set[str] = set()

    def visit(state: str) -> None:
        on_stack.add(state)
        dag[state] = []
        for dest in forward[state]:
            if dest in on_stack:
                continue
            dag[state].append(dest)
            if dest not in dag:
                visit(dest)
        on_stack.discard(state)

    visit(definition.initial)

    best: dict[str, list[str] | None] = {}

    def longest(state: str) -> list[str] | None:
        """The longest way from ``state`` to a final state, or ``None`` if there is none."""
        if state not in best:
            found = [state] if definition.state_by_name[state].final else None
            for dest in dag[state]:
                rest = longest(dest)
                if rest is not None and (found is None or len(rest) + 1 > len(found)):
                    found = [state, *rest]
            best[state] = found
        return best[state]

    return longest(definition.initial) or [definition.initial]


def funnel_order(definition: Definition) -> list[str]:
    """The happy path first, then the other states as the definition lists them."""
    path = happy_path(definition)
    return path + [s.name for s in definition.states if s.name not in path]


# What the page shows -----------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    url: str | None = None
    #: Bootstrap's colour name: ``primary`` on the way, ``success`` arrived, ``danger``
    #: stuck, ``secondary`` off the way.
    tone: str = "primary"


@dataclass(frozen=True)
class Chart:
    """One horizontal bar chart: a caption, the label column's heading, the bars."""

    id: str
    caption: str
    heading: str
    bars: list[Bar]

    @property
    def total(self) -> int:
        return sum(b.value for b in self.bars)

    @property
    def maximum(self) -> int:
        return max((b.value for b in self.bars), default=0)


@dataclass(frozen=True)
class Section:
    """The charts of one AD, or of every AD together (``ad`` is then ``None``)."""

    title: str
    ad: AD | None
    funnels: list[Chart]
    stuck: Chart

    @property
    def total(self) -> int:
        return sum(f.total for f in self.funnels)

    @property
    def key(self) -> str:
        return self.ad.code if self.ad is not None else "total"


@dataclass(frozen=True)
class Board:
    sections: list[Section]
    oldest_stuck: list[Case]
    oldest_tasks: list[Task]
    #: Stuck reason code → its title, for the « oldest stuck » list.
    reasons: dict[str, str] = field(default_factory=dict)


# Queries ---------------------------------------------------------------------------


def count_states(session: Any, principal: StaffPrincipal) -> list[tuple[int, str, str, int]]:
    """(AD, process, state, cases) in scope: one GROUP BY over ix_cases_ad_process_state."""
    query = (
        select(Case.ad_id, Case.process, Case.state, func.count())
        .where(case_condition(principal))
        .group_by(Case.ad_id, Case.process, Case.state)
    )
    return [(ad_id, p, s, n) for ad_id, p, s, n in session.execute(query)]


def count_stuck(session: Any, principal: StaffPrincipal) -> list[tuple[int, str, int]]:
    """(AD, stuck reason, cases) in scope, over the stuck rows only (partial indexes)."""
    query = (
        select(Case.ad_id, Case.stuck_reason, func.count())
        .where(case_condition(principal), Case.stuck_since.is_not(None))
        .group_by(Case.ad_id, Case.stuck_reason)
    )
    return [(ad_id, r, n) for ad_id, r, n in session.execute(query) if r is not None]


def oldest_stuck(session: Any, principal: StaffPrincipal, limit: int = OLDEST) -> list[Case]:
    query = (
        select(Case)
        .where(case_condition(principal), Case.stuck_since.is_not(None))
        .order_by(Case.stuck_since, Case.id)
        .limit(limit)
        .options(joinedload(Case.coop))  # the coop's AD comes joined with it
    )
    return list(session.scalars(query))


def oldest_tasks(session: Any, principal: StaffPrincipal, limit: int = OLDEST) -> list[Task]:
    query = (
        select(Task)
        .where(task_condition(principal), Task.status == TaskStatus.OPEN.value)
        .order_by(Task.due_at, Task.id)
        .limit(limit)
        .options(joinedload(Task.case).joinedload(Case.coop))
    )
    return list(session.scalars(query))


def visible_ads(session: Any, principal: StaffPrincipal, ad_ids: set[int]) -> list[AD]:
    """National staff: the ADs that have cases; everyone else: their own AD."""
    wanted: ColumnElement[bool]
    if principal.is_national:
        wanted = AD.id.in_(ad_ids)
    elif principal.ad_id is not None:
        wanted = AD.id == principal.ad_id
    else:
        return []
    return list(session.scalars(select(AD).where(wanted).order_by(AD.code)))


# Building the charts -----------------------------------------------------------------


def _funnels(
    definitions: Mapping[str, Definition],
    counts: Counter[tuple[str, str]],
    ad: AD | None,
) -> list[Chart]:
    charts = []
    where: dict[str, Any] = {"ad": ad.code} if ad is not None else {}
    for definition in definitions.values():
        path = happy_path(definition)
        known = funnel_order(definition)
        # States no longer in the definition (older versions) still count, at the end.
        extra = sorted(s for p, s in counts if p == definition.name and s not in known)
        bars = []
        for name in known + extra:
            state = definition.state_by_name.get(name)
            if state is None:
                tone = "secondary"
            elif state.stuck is not None:
                tone = "danger"
            elif name in path:
                tone = "success" if state.final else "primary"
            else:
                tone = "secondary"
            bars.append(
                Bar(
                    label=state.label if state is not None else name,
                    value=counts[(definition.name, name)],
                    url=url_for("cases.index_view", etat=f"{definition.name}.{name}", **where),
                    tone=tone,
                )
            )
        charts.append(
            Chart(
                id=f"funnel-{definition.name}-{ad.code if ad else 'total'}",
                caption=definition.title,
                heading="État",
                bars=bars,
            )
        )
    return charts


def _stuck_chart(titles: Mapping[str, str], counts: Counter[str], ad: AD | None) -> Chart:
    where: dict[str, Any] = {"ad": ad.code} if ad is not None else {}
    bars = [
        Bar(
            label=titles.get(reason, reason),
            value=n,
            url=url_for("cases.index_view", bloques=1, motif=reason, **where),
            tone="danger",
        )
        for reason, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    return Chart(
        id=f"stuck-{ad.code if ad else 'total'}",
        caption="Dossiers bloqués par motif",
        heading="Motif",
        bars=bars,
    )


def build(session: Any, principal: StaffPrincipal, definitions: Mapping[str, Definition]) -> Board:
    """Everything the page shows, in five queries whatever the number of cases."""
    titles = {code: rule.title or code for code, rule in stuck_rules(definitions).items()}
    states = count_states(session, principal)
    stuck = count_stuck(session, principal)
    ads = visible_ads(session, principal, {ad_id for ad_id, *_ in states})

    def section(title: str, ad: AD | None) -> Section:
        by_state: Counter[tuple[str, str]] = Counter()
        for ad_id, process, state, n in states:
            if ad is None or ad_id == ad.id:
                by_state[(process, state)] += n
        by_reason: Counter[str] = Counter()
        for ad_id, reason, n in stuck:
            if ad is None or ad_id == ad.id:
                by_reason[reason] += n
        return Section(
            title,
            ad,
            _funnels(definitions, by_state, ad),
            _stuck_chart(titles, by_reason, ad),
        )

    sections = [section(f"{ad.code} · {ad.name}", ad) for ad in ads]
    if principal.is_national:
        sections.insert(0, section("Toutes les AD", None))
    return Board(
        sections=sections,
        oldest_stuck=oldest_stuck(session, principal),
        oldest_tasks=oldest_tasks(session, principal),
        reasons=titles,
    )


def number_fr(value: int) -> str:
    """``12 345``"""
    return str(format_decimal(value, locale="fr_FR"))


# The view ----------------------------------------------------------------------------


class DashboardView(StaffView, BaseView):
    def __init__(self, session: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    @expose("/")
    def index(self) -> Any:
        principal = staff()
        rt = runtime()
        board = build(self.session, principal, rt.engine.definitions)
        return self.render(
            "coopflow_admin/dashboard.html",
            board=board,
            principal=principal,
            now=rt.engine.clock.now(),
            number_fr=number_fr,
        )


def register(admin: Admin, session: Any) -> None:
    """Add « Tableau de bord » to the back-office's menu."""
    admin.add_view(
        DashboardView(session, name="Tableau de bord", endpoint="dashboard", url="tableau-de-bord")
    )
