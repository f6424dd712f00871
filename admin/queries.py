"""The back-office's case lists as queries: filters, search, scope and keyset pages.

One :class:`CaseFilters` is read from the query string of every list (the stuck list,
all cases, exports and bulk actions on « the whole filter »), so a list, its export
and a bulk action over it always select the same cases. Pages are keyset pages (the
last row's sort key in ``apres``), never OFFSET: page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from web.auth import StaffPrincipal
from web.guards import MAX_ID
from workflows.engine.definition import Definition, StuckRule
from workflows.models import AD, Case, Coop, Mandataire
from workflows.scope import case_condition
from workflows.search import contains_words, searched

PAGE_SIZE = 50
#: « Bloqué depuis plus de … » choices of the age filter, in days.
AGE_CHOICES = (1, 3, 7, 14, 30)
ME, NOBODY = "moi", "personne"
#: A row id as typed: ASCII digits (``"²".isdigit()`` is true, ``int("²")`` fails), and
#: few enough of them for an ``INTEGER`` column.
_ID = re.compile(r"[0-9]{1,10}")


def as_id(raw: str) -> int | None:
    """``raw`` as a row id, or ``None`` when it cannot be one."""
    return int(raw) if _ID.fullmatch(raw) and int(raw) <= MAX_ID else None


def stuck_rules(definitions: Mapping[str, Definition]) -> dict[str, StuckRule]:
    """Every stuck reason of every process, by code (the first definition wins)."""
    out: dict[str, StuckRule] = {}
    for definition in definitions.values():
        for rule in definition.stuck_rules:
            out.setdefault(rule.reason, rule)
    return out


@dataclass(frozen=True)
class CaseFilters:
    """What a staff member asked to see; built from (and back to) the query string."""

    bloques: bool = False
    motif: str = ""
    processus: str = ""
    #: ``process.state``: state names repeat across processes.
    etat: str = ""
    ad: str = ""
    #: Stuck for more than this many days.
    age: int = 0
    #: ``moi``, ``personne`` or a staff id.
    assigne: str = ""
    q: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CaseFilters:
        """Unknown or malformed values are dropped: a list never fails on its URL."""

        def text(name: str, limit: int = 100) -> str:
            return str(args.get(name, "")).strip()[:limit]

        age = text("age", 4)
        return cls(
            bloques=text("bloques") in ("1", "oui"),
            motif=text("motif", 40),
            processus=text("processus", 40),
            etat=text("etat", 81),
            ad=text("ad", 10).upper(),
            age=days if (days := as_id(age)) in AGE_CHOICES else 0,
            assigne=text("assigne", 20),
            q=text("q", 100),
        )

    def to_args(self, **changes: Any) -> dict[str, str]:
        """The query string of these filters (``changes`` applied), empty values left out."""
        current = replace(self, **changes)
        out: dict[str, str] = {}
        for f in fields(current):
            value = getattr(current, f.name)
            if value in ("", 0, False):
                continue
            out[f.name] = "1" if value is True else str(value)
        return out

    @property
    def active(self) -> bool:
        """Whether anything narrows the list beyond « bloqués »."""
        return any(v for k, v in self.to_args().items() if k != "bloques")

    def describe(self, definitions: Mapping[str, Definition]) -> str:
        """The filters in French, for bulk action reports and export file names."""
        parts = ["dossiers bloqués" if self.bloques else "tous les dossiers"]
        rules = stuck_rules(definitions)
        if self.motif:
            rule = rules.get(self.motif)
            parts.append(f"motif « {rule.title if rule else self.motif} »")
        if self.processus in definitions:
            parts.append(f"processus « {definitions[self.processus].title} »")
        if self.etat:
            process, _, state = self.etat.partition(".")
            if process in definitions and state in definitions[process].state_by_name:
                parts.append(f"état « {definitions[process].label(state)} »")
        if self.ad:
            parts.append(self.ad)
        if self.age:
            parts.append(f"bloqués depuis plus de {self.age} jours")
        if self.assigne == ME:
            parts.append("assignés à moi")
        elif self.assigne == NOBODY:
            parts.append("non assignés")
        elif self.assigne:
            parts.append(f"assignés au membre n° {self.assigne}")
        if self.q:
            parts.append(f"recherche « {self.q} »")
        return ", ".join(parts)


#: What the case lists search, folded (:mod:`workflows.search`): each is indexed by
#: trigrams on PostgreSQL (migration 0009).
COOP_SEARCHED = searched(Coop.name, Coop.affiliation_number)
MANDATAIRE_SEARCHED = searched(Mandataire.first_name, Mandataire.last_name, Mandataire.email)


def search_condition(q: str) -> ColumnElement[bool]:
    """Coop name and affiliation number, or mandataire name and email, contain every
    word of ``q``, whatever its case and accents (« exupery » finds « Exupéry »)."""
    # One IN over a UNION, not an OR of two INs: PostgreSQL joins it to the cases by
    # ``ix_cases_coop_process`` instead of filtering every case (B3: 360 ms → a few ms,
    # with the trigram indexes of migration 0009 serving the LIKEs).
    return Case.coop_id.in_(_coop_ids_searched(q))


def _coop_ids_searched(q: str) -> Select[Any]:
    coops = select(Coop.id).where(contains_words(COOP_SEARCHED, q))
    people = select(Mandataire.coop_id).where(contains_words(MANDATAIRE_SEARCHED, q))
    return coops.union(people)


def looked_up_search(session: Any, q: str) -> ColumnElement[bool]:
    """:func:`search_condition` for one page of a list, the coops found first.

    As ``coop_id IN (subquery)``, PostgreSQL cannot know how many coops a search finds
    and hashes them against every case (B3 at 500,000 cases: 100–200 ms for two common
    words). Given the ids as an array, it picks by their number: a few, by the index on
    ``cases.coop_id``; thousands, the newest cases first, each checked in a hash of
    them, until the page is full. Written in the statement (``literal_execute``): a
    prepared statement's generic plan would not see their number. SQLite keeps the
    subquery (it scans).
    """
    if session.get_bind().dialect.name != "postgresql":
        return search_condition(q)
    ids = sorted(set(session.scalars(_coop_ids_searched(q))))
    if not ids:
        return false()
    array = bindparam("searched_coop_ids", ids, type_=ARRAY(Integer), literal_execute=True)
    return Case.coop_id == any_(array)


def conditions(
    principal: StaffPrincipal, filters: CaseFilters, now: datetime, session: Any = None
) -> list[ColumnElement[bool]]:
    """The SQL of ``filters``; with ``session``, the search's coops looked up first."""
    where = [case_condition(principal)]
    if filters.bloques or filters.motif or filters.age:
        where.append(Case.stuck_since.is_not(None))
    if filters.motif:
        where.append(Case.stuck_reason == filters.motif)
    if filters.processus:
        where.append(Case.process == filters.processus)
    if filters.etat:
        process, _, state = filters.etat.partition(".")
        where += [Case.process == process, Case.state == state]
    if filters.ad:
        where.append(Case.ad_id == select(AD.id).where(AD.code == filters.ad).scalar_subquery())
    if filters.age:
        where.append(Case.stuck_since <= now - timedelta(days=filters.age))
    if filters.assigne == ME:
        where.append(Case.assignee_id == principal.id)
    elif filters.assigne == NOBODY:
        where.append(Case.assignee_id.is_(None))
    elif filters.assigne:
        # « assignés au membre n° ² » is nobody: never every case (a bulk action's scope).
        assignee_id = as_id(filters.assigne)
        where.append(Case.assignee_id == assignee_id if assignee_id is not None else false())
    if filters.q:
        search = search_condition if session is None else partial(looked_up_search, session)
        where.append(search(filters.q))
    return where


def matching(principal: StaffPrincipal, filters: CaseFilters, now: datetime) -> Select[Any]:
    """Every case the filters select, in the list's order (exports, bulk actions)."""
    query = select(Case).where(*conditions(principal, filters, now))
    return query.order_by(*_order(filters))


def _order(filters: CaseFilters) -> list[Any]:
    if filters.bloques or filters.motif or filters.age:
        return [Case.stuck_since, Case.id]  # the oldest stuck first
    return [Case.id.desc()]  # the newest first


@dataclass(frozen=True)
class Page:
    cases: list[Case]
    #: The ``apres`` value of the next page, or ``None`` on the last one.
    next_cursor: str | None


def page(
    session: Any,
    principal: StaffPrincipal,
    filters: CaseFilters,
    now: datetime,
    after: str = "",
    size: int | None = None,
) -> Page:
    """One keyset page of the list, after the row whose cursor is ``after``."""
    size = size or PAGE_SIZE
    query = select(Case).where(*conditions(principal, filters, now, session))
    stuck_order = bool(filters.bloques or filters.motif or filters.age)
    cursor = _parse_cursor(after, stuck_order)
    if stuck_order:
        if cursor is not None:
            since, last_id = cursor
            query = query.where(
                or_(Case.stuck_since > since, and_(Case.stuck_since == since, Case.id > last_id))
            )
    elif cursor is not None:
        query = query.where(Case.id < cursor[1])
    rows = list(session.scalars(query.order_by(*_order(filters)).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        stamp = last.stuck_since.isoformat() if stuck_order and last.stuck_since else ""
        next_cursor = f"{stamp}~{last.id}" if stuck_order else str(last.id)
    return Page(rows, next_cursor)


def _parse_cursor(after: str, stuck_order: bool) -> tuple[datetime | None, int] | None:
    """The cursor of ``?apres=``, or ``None`` (the first page) for anything we did not
    write: a hand-edited address must not reach the database as an overflow."""
    if not stuck_order:
        last = as_id(after)
        return None if last is None else (None, last)
    stamp, _, raw_id = after.rpartition("~")
    last = as_id(raw_id)
    try:
        since = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if last is None or since.tzinfo is None:
        return None
    return since, last


def counts_by_reason(
    session: Any, principal: StaffPrincipal, filters: CaseFilters, now: datetime
) -> list[tuple[str, int]]:
    """How many stuck cases per reason under the other filters, most frequent first."""
    base = replace(filters, motif="", bloques=True)
    query = (
        select(Case.stuck_reason, func.count())
        .where(*conditions(principal, base, now, session))
        .group_by(Case.stuck_reason)
        .order_by(func.count().desc())
    )
    return [(reason, n) for reason, n in session.execute(query) if reason is not None]
