"""Where each process of one coop stands, for staff: the coop's page and its picture,
and the prerequisites a case page says are not met.

Read from the definitions and the cross-process rules (:mod:`workflows.engine.cross_process`),
never decided here: a process is *waiting* when the engine would make it wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from workflows.engine.cross_process import (
    Prerequisite,
    latest_cases,
    school_year_label,
    school_year_of,
    unmet,
)
from workflows.engine.definition import Definition
from workflows.engine.labelled import Labelled
from workflows.models import Case


class Status(Labelled):
    """Where a process of the coop stands (the colour of its node), and its name."""

    DONE = "done", "terminé"
    ENDED = "ended", "terminé sans suite"
    STUCK = "stuck", "bloqué"
    IN_PROGRESS = "in_progress", "en cours"
    WAITING = "waiting", "en attente de prérequis"
    NOT_STARTED = "not_started", "pas commencé"


@dataclass(frozen=True)
class UnmetPrerequisite:
    """A prerequisite the coop does not meet, as staff read it."""

    #: The definition's own sentence (« Disponible dès votre première connexion. »).
    reason: str
    process: str
    process_title: str
    #: The states it needs, in French: « Compte actif » (or « A » ou « B »).
    needed: str
    #: The state the needed process is in now, in French; ``None``: not started.
    current: str | None


@dataclass(frozen=True)
class ProcessStatus:
    """One process of the coop: its latest case (this school year's for a yearly
    process), its status, and why it waits when it waits."""

    definition: Definition
    case: Case | None
    status: Status
    waiting: tuple[UnmetPrerequisite, ...] = ()
    #: The prerequisites of the definition, each with whether the coop meets it.
    prerequisites: tuple[tuple[Prerequisite, bool], ...] = ()

    @property
    def process(self) -> str:
        return self.definition.name

    @property
    def title(self) -> str:
        return self.definition.title

    @property
    def state_label(self) -> str:
        """The latest case's state in French, or « pas commencé »."""
        if self.case is None:
            return Status.NOT_STARTED.label
        state = self.definition.state_by_name.get(self.case.state)
        return state.label if state else self.case.state

    @property
    def status_label(self) -> str:
        return self.status.label

    @property
    def school_year(self) -> str | None:
        """« 2026-2027 » for a yearly process's case."""
        if self.case is None or self.case.school_year is None:
            return None
        return school_year_label(self.case.school_year)


def stuck_title(definition: Definition, reason: str) -> str:
    """A stuck reason in a few words (« Invitation expirée »), as the stuck list reads it."""
    rule = next((r for r in definition.stuck_rules if r.reason == reason), None)
    return rule.title if rule is not None and rule.title else reason


def states_fr(definition: Definition | None, states: Iterable[str]) -> str:
    """« Compte actif » ou « Annulée »: the states a prerequisite needs, in French."""
    labels = [
        definition.state_by_name[s].label
        if definition is not None and s in definition.state_by_name
        else s
        for s in states
    ]
    return " ou ".join(f"« {label} »" for label in labels)


def unmet_prerequisites(
    session: Session,
    coop_id: int,
    definition: Definition,
    definitions: Mapping[str, Definition],
    now: datetime,
) -> list[UnmetPrerequisite]:
    """The prerequisites of ``definition`` the coop does not meet at ``now``, each with
    the state its process is in instead."""
    missing = unmet(session, coop_id, definition.prerequisites, now)
    return _describe(session, coop_id, missing, definitions, now)


def _describe(
    session: Session,
    coop_id: int,
    missing: list[Prerequisite],
    definitions: Mapping[str, Definition],
    now: datetime,
) -> list[UnmetPrerequisite]:
    if not missing:
        return []
    current = latest_cases(
        session,
        coop_id,
        {p.process for p in missing},
        school_year=school_year_of(now),
        yearly=frozenset(p.process for p in missing if p.this_year),
    )
    out = []
    for p in missing:
        other = definitions.get(p.process)
        case = current.get(p.process)
        state = other.state_by_name.get(case.state) if other and case else None
        out.append(
            UnmetPrerequisite(
                reason=p.reason,
                process=p.process,
                process_title=other.title if other else p.process,
                needed=states_fr(other, p.states),
                current=(state.label if state else case.state) if case else None,
            )
        )
    return out


def waits_for_prerequisites(definition: Definition, case: Case | None) -> bool:
    """The engine makes ``case`` (``None``: not created yet) wait for the prerequisites:
    not created, or in the initial state its ``start_trigger`` leaves."""
    return case is None or (
        definition.start_trigger is not None and case.state == definition.initial
    )


def latest_by_process(
    cases: Iterable[Case], definitions: Mapping[str, Definition], now: datetime
) -> dict[str, Case]:
    """The newest case of each process (for a yearly one, of the school year of ``now``),
    as :func:`~workflows.engine.cross_process.latest_cases` chooses it."""
    year = school_year_of(now)
    latest: dict[str, Case] = {}
    for case in sorted(cases, key=lambda c: c.id):
        definition = definitions.get(case.process)
        if definition is not None and definition.yearly and case.school_year != year:
            continue
        latest[case.process] = case
    return latest


def coop_processes(
    session: Session,
    coop_id: int,
    cases: Iterable[Case],
    definitions: Mapping[str, Definition],
    now: datetime,
) -> list[ProcessStatus]:
    """Every process of ``definitions`` for the coop, in the order of the portal's
    checklist, from the coop's ``cases`` (all of them)."""
    latest = latest_by_process(cases, definitions, now)
    ordered = sorted(definitions.values(), key=lambda d: (d.checklist_position, d.name))
    out = []
    for definition in ordered:
        case = latest.get(definition.name)
        missing = unmet(session, coop_id, definition.prerequisites, now)
        status = _status(definition, case, bool(missing))
        waiting = (
            _describe(session, coop_id, missing, definitions, now)
            if status == Status.WAITING
            else []
        )
        out.append(
            ProcessStatus(
                definition,
                case,
                status,
                tuple(waiting),
                tuple((p, p not in missing) for p in definition.prerequisites),
            )
        )
    return out


def _status(definition: Definition, case: Case | None, has_unmet: bool) -> Status:
    if waits_for_prerequisites(definition, case) and has_unmet:
        return Status.WAITING
    if case is None:
        return Status.NOT_STARTED
    if case.stuck_reason is not None:
        return Status.STUCK
    state = definition.state_by_name.get(case.state)
    if state is not None and state.final:
        return Status.ENDED if state.failed else Status.DONE
    return Status.IN_PROGRESS
