"""The case lists: « Cas bloqués » (the back-office home) and « Dossiers ».

Both are the same page over :mod:`admin.queries`: filters and search from the query
string, counts per stuck reason, keyset pages, each stuck case with its French reason
and its recommended action one click away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from admin import queries
from admin.queries import AGE_CHOICES, ME, NOBODY, CaseFilters
from web.auth import StaffPrincipal
from web.runtime import runtime
from workflows.engine.definition import Definition, StuckRule
from workflows.models import AD, Case, StaffUser
from workflows.scope import acting_staff_condition


@dataclass(frozen=True)
class Row:
    """One case as a line of the list."""

    case: Case
    process: str
    state: str
    reason: StuckRule | None
    days_stuck: int | None

    @property
    def recommended_url(self) -> str:
        return url_for("cases.case_page", case_id=self.case.id, _anchor="recommandee")


def staff_choices(session: Any, principal: StaffPrincipal, ad_id: int | None) -> list[StaffUser]:
    """Who may be given cases of ``ad_id`` (every AD when ``None``): active staff that
    act (not read-only), of that AD or national."""
    query = select(StaffUser).where(acting_staff_condition(principal, ad_id))
    return list(session.scalars(query.order_by(StaffUser.full_name)))


def list_context(
    session: Any,
    principal: StaffPrincipal,
    definitions: dict[str, Definition],
    filters: CaseFilters,
    *,
    endpoint: str,
) -> dict[str, Any]:
    """Everything the list template needs, for ``filters`` and the ``apres`` cursor."""
    now: datetime = runtime().engine.clock.now()
    after = request.args.get("apres", "")[:80]
    page = queries.page(session, principal, filters, now, after=after)
    ids = [c.id for c in page.cases]
    # One query for the coops, ADs and assignees of the page: never one per row.
    loaded = {
        c.id: c
        for c in session.scalars(
            select(Case)
            .where(Case.id.in_(ids))
            .options(joinedload(Case.coop), joinedload(Case.ad), joinedload(Case.assignee))
        ).unique()
    }
    rules = queries.stuck_rules(definitions)
    rows = []
    for case in page.cases:
        case = loaded.get(case.id, case)
        definition = definitions.get(case.process)
        state = definition.state_by_name.get(case.state) if definition else None
        rows.append(
            Row(
                case=case,
                process=definition.title if definition else case.process,
                state=state.label if state else case.state,
                reason=rules.get(case.stuck_reason) if case.stuck_reason else None,
                days_stuck=(now - case.stuck_since).days if case.stuck_since else None,
            )
        )
    ads = list(session.scalars(select(AD).order_by(AD.code))) if principal.is_national else []
    states = [
        (f"{d.name}.{s.name}", f"{d.title} : {s.label}")
        for d in definitions.values()
        for s in d.states
    ]
    counts = (
        queries.counts_by_reason(session, principal, filters, now)
        if filters.bloques or filters.motif
        else []
    )
    return {
        "filters": filters,
        "rows": rows,
        "next_url": (
            url_for(endpoint, **filters.to_args(), apres=page.next_cursor)
            if page.next_cursor
            else None
        ),
        "first_url": url_for(endpoint, **filters.to_args()) if after else None,
        "counts": [(rules.get(reason), reason, n) for reason, n in counts],
        "rules": rules,
        "ads": ads,
        "states": states,
        "processes": [(d.name, d.title) for d in definitions.values()],
        "age_choices": AGE_CHOICES,
        "assignees": staff_choices(session, principal, None),
        "ME": ME,
        "NOBODY": NOBODY,
        "endpoint": endpoint,
        "description": filters.describe(definitions),
        "can_act": principal.can_act,
    }
