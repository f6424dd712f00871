"""Cross-process rules, as data the engine applies (DESIGN.md « Cross-process rules »).

- A :class:`Prerequisite` is a state of another process of the same coop that a process
  needs, with the French sentence shown while it is not met. A process needs all of its
  prerequisites; its case starts in the transaction that meets the last one.
- An :class:`Effect` fires a trigger on the coop's case of another process when a case
  enters a state (funds received → repay the advance), or starts a new one (a validated
  change of mandataire → an invitation for the new person).
- Yearly processes carry their **school year** (1 September–31 August, Europe/Paris),
  named by the year it starts in (2026 for 2026-2027); a prerequisite may ask for « this
  year's » case, which a new school year makes unmet again.

« The coop's case of a process » is its newest one (for a yearly process, its newest
of the school year in question).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import Case

PARIS = ZoneInfo("Europe/Paris")
#: The month a school year starts in (1 September).
SCHOOL_YEAR_START_MONTH = 9


def school_year_of(moment: datetime) -> int:
    """The school year ``moment`` (aware, any zone) falls in, by its first year: the
    night of 31 August to 1 September counts in Paris, not in UTC."""
    local = moment.astimezone(PARIS)
    return local.year if local.month >= SCHOOL_YEAR_START_MONTH else local.year - 1


def school_year_label(year: int) -> str:
    """« 2026-2027 »."""
    return f"{year}-{year + 1}"


@dataclass(frozen=True)
class Prerequisite:
    """The coop's case of ``process`` must be in one of ``states``.

    ``reason`` is what the mandataire and staff read while it is not met (« Disponible
    quand votre identité sera vérifiée. »). ``this_year``: the case of the current
    school year (the process is yearly)."""

    process: str
    states: tuple[str, ...]
    reason: str
    this_year: bool = False

    @property
    def guard(self) -> str:
        """The guard name a transition gives to require this prerequisite."""
        return f"prerequisite:{self.process}"


@dataclass(frozen=True)
class Effect:
    """When a case enters ``state``, fire ``trigger`` on the coop's case of ``process``
    (if it has one from which the trigger is allowed), in the same transaction."""

    state: str
    process: str
    trigger: str
    this_year: bool = False
    #: Start a new case of ``process`` instead (a validated change of mandataire → an
    #: invitation for the new person): the data it begins with, made from the case that
    #: entered ``state`` in its transaction (``None``: nothing to start; a
    #: ``ConflictError``: it cannot, recorded on the case), then ``trigger`` fired on it.
    start: Callable[[Session, Case], dict[str, Any] | None] | None = None
    #: A check on the case alone, before ``start`` (false: nothing to start, and no
    #: savepoint opened for it: a savepoint snapshots the session, a tenth of a
    #: validation's time when nearly every case has nothing to start).
    wanted: Callable[[Case], bool] | None = None


@dataclass(frozen=True)
class CaseView:
    """What a rule reads of a case: enough to decide without loading it."""

    id: int
    process: str
    state: str
    school_year: int | None


def latest_cases(
    session: Session,
    coop_id: int,
    processes: Iterable[str],
    *,
    school_year: int | None = None,
    yearly: frozenset[str] = frozenset(),
    known: Iterable[Case] = (),
) -> dict[str, CaseView]:
    """The coop's newest case of each of ``processes`` (for those in ``yearly``, of
    ``school_year``). ``known`` are cases this transaction holds and may have changed
    without flushing: their state in memory wins over the database's."""
    processes = set(processes)
    if not processes:
        return {}
    found: dict[str, CaseView] = {}
    with session.no_autoflush:
        rows = session.execute(
            select(Case.id, Case.process, Case.state, Case.school_year)
            .where(Case.coop_id == coop_id, Case.process.in_(sorted(processes)))
            .order_by(Case.id)
        ).all()
    views = [CaseView(*row) for row in rows]
    views += [
        CaseView(c.id, c.process, c.state, c.school_year)
        for c in known
        if c.coop_id == coop_id and c.process in processes and c.id is not None
    ]
    for view in sorted(views, key=lambda v: v.id):
        if view.process in yearly and view.school_year != school_year:
            continue
        found[view.process] = view  # the newest wins; a known case after its row
    return found


def unmet(
    session: Session,
    coop_id: int,
    prerequisites: Iterable[Prerequisite],
    now: datetime,
    *,
    known: Iterable[Case] = (),
) -> list[Prerequisite]:
    """The prerequisites the coop does not meet at ``now``, in their order."""
    prerequisites = list(prerequisites)
    if not prerequisites:
        return []
    year = school_year_of(now)
    yearly = frozenset(p.process for p in prerequisites if p.this_year)
    latest = latest_cases(
        session,
        coop_id,
        {p.process for p in prerequisites},
        school_year=year,
        yearly=yearly,
        known=known,
    )
    return [
        p
        for p in prerequisites
        if (case := latest.get(p.process)) is None or case.state not in p.states
    ]
