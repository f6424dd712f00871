"""The onboarding checklist (PROCESSES.md, « The onboarding checklist »): one line per
process, in ``checklist_position`` order, saying where it stands, what to do next, and
why it waits when it waits. Built from the definitions: a new process shows up by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.engine.cross_process import school_year_of, unmet
from workflows.engine.definition import Definition
from workflows.models import Case, Coop, Task, TaskStatus

NOT_STARTED = "Cette démarche n'a pas encore commencé."
NOTHING_TO_DO = "En cours : rien à faire de votre côté pour le moment."
ON_REQUEST = "Facultatif : seulement si vous en avez besoin."


@dataclass(frozen=True)
class Line:
    """One line of the checklist, ready to show."""

    process: str
    title: str
    #: The state in French, ``None`` when the process has not started for the coop.
    state: str | None
    done: bool = False
    #: The button: its label and where it leads.
    action: str | None = None
    action_url: str | None = None
    #: Why it waits, or who is on it, in French.
    note: str | None = None
    #: What the mandataire wrote to the AD's team, while they are on it.
    message: str | None = None
    #: Why it has not started: one sentence per unmet prerequisite.
    waiting: tuple[str, ...] = ()


def build(
    session: Session, coop: Coop, definitions: Mapping[str, Definition], now: datetime
) -> list[Line]:
    """The coop's checklist, from its latest case of each process (this school year's
    for a yearly one) and, for those that wait, their unmet prerequisites at ``now``."""
    latest: dict[str, Case] = {}
    year = school_year_of(now)
    for case in session.scalars(
        select(Case).where(Case.coop_id == coop.id).order_by(Case.created_at, Case.id)
    ):
        definition = definitions.get(case.process)
        if definition is not None and definition.yearly and case.school_year != year:
            continue
        latest[case.process] = case
    ordered = sorted(definitions.values(), key=lambda d: (d.checklist_position, d.name))
    lines = (_line(session, coop, d, latest.get(d.name), now) for d in ordered)
    return [line for line in lines if line is not None]


def next_step(lines: Iterable[Line]) -> Line | None:
    """The first line that waits for the mandataire."""
    return next((line for line in lines if line.action), None)


def waiting_reasons(
    session: Session, coop_id: int, definition: Definition, now: datetime
) -> list[str]:
    """One French sentence per prerequisite of ``definition`` the coop does not meet."""
    return [p.reason for p in unmet(session, coop_id, definition.prerequisites, now)]


def _line(
    session: Session, coop: Coop, definition: Definition, case: Case | None, now: datetime
) -> Line | None:
    title = definition.checklist_title or definition.title
    if definition.request_action is not None:
        requested = case is not None and not definition.state_by_name[case.state].final
        if not requested:
            # Asked for when needed: offered while the coop may ask, else not shown.
            if unmet(session, coop.id, definition.offered_when, now):
                return None if case is None else _line_of(definition, title, case, coop, session)
            return Line(
                definition.name,
                title,
                None if case is None else definition.portal_label(case.state),
                action=definition.request_action,
                action_url=definition.portal_path,
                note=ON_REQUEST,
            )
    waiting = case is None or (
        definition.start_trigger is not None and case.state == definition.initial
    )
    if waiting:
        reasons = waiting_reasons(session, coop.id, definition, now)
        return Line(
            definition.name,
            title,
            None if case is None else definition.portal_label(case.state),
            note=" ".join(reasons) or NOT_STARTED,
            waiting=tuple(reasons),
        )
    assert case is not None
    return _line_of(definition, title, case, coop, session)


def _line_of(definition: Definition, title: str, case: Case, coop: Coop, session: Session) -> Line:
    """The line of a case past its waiting state."""
    state = definition.state_by_name[case.state]
    line = Line(definition.name, title, definition.portal_label(state.name))
    if state.final:
        return replace(line, done=not state.failed)
    if state.mandataire_action:
        if definition.portal_path is None:
            return replace(line, note=f"À faire : {state.mandataire_action}.")
        return replace(line, action=state.mandataire_action, action_url=definition.portal_path)
    if state.task is not None or case.stuck_reason is not None:
        return replace(
            line,
            note=f"L'équipe de votre association départementale ({coop.ad.name}) s'en occupe : "
            "vous n'avez rien à faire pour le moment. Cette ligne changera dès qu'elle aura "
            "avancé.",
            message=_open_task_note(session, case),
        )
    return replace(line, note=NOTHING_TO_DO)


def _open_task_note(session: Session, case: Case) -> str | None:
    """The note of the task this state opened (the mandataire's message, if any)."""
    return session.scalars(
        select(Task.note)
        .where(
            Task.case_id == case.id,
            Task.state == case.state,
            Task.status == TaskStatus.OPEN.value,
            Task.note.is_not(None),
        )
        .order_by(Task.id.desc())
        .limit(1)
    ).first()
