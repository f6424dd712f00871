"""A case's tasks for staff, its stuck mark and its audit trail, as one engine
transaction writes them (:class:`workflows.engine.unit_of_work.UnitOfWork` is one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.engine.actor import Actor
from workflows.engine.context import EngineContext
from workflows.engine.definition import StuckRule
from workflows.models import Case, Task, TaskStatus

#: The optional columns of an audit event, with their empty values.
_EVENT_FIELDS: dict[str, Any] = {
    "trigger": None,
    "from_state": None,
    "to_state": None,
    "comment": None,
}


class _Unknown(dict[str, Any]):
    """Formats a stuck message even when a detail is missing."""

    def __missing__(self, key: str) -> str:
        return "(inconnu)"


class CaseRecords:
    """What a transaction writes about a case besides its state: tasks for staff, the
    stuck mark, comments, audit events. Part of :class:`UnitOfWork
    <workflows.engine.unit_of_work.UnitOfWork>`, which sets these attributes."""

    engine: EngineContext
    session: Session
    now: datetime
    #: The audit events of the transaction, written when it settles.
    _events: list[tuple[Case, dict[str, Any]]]

    # Tasks --------------------------------------------------------------------------

    def open_task(
        self,
        case: Case,
        *,
        kind: str,
        title: str,
        due_at: datetime,
        created_by: Actor,
        state: str | None = None,
        note: str | None = None,
    ) -> Task:
        task = Task(
            case=case,
            ad_id=case.ad_id,
            kind=kind,
            title=title,
            state=state,
            status=TaskStatus.OPEN.value,
            due_at=due_at,
            created_at=self.now,
            created_by=str(created_by),
            note=note,
        )
        self.session.add(task)
        self.record(case, created_by, kind="task", comment=f"Tâche ouverte : {title}", payload={})
        return task

    def close_task(self, case: Case, task: Task, actor: Actor, comment: str) -> None:
        """Mark ``task`` done; a case stuck only because of overdue tasks is unstuck."""
        task.status = TaskStatus.DONE.value
        task.closed_at = self.now
        task.closed_by = str(actor)
        self.session.flush()
        self.record(case, actor, kind="task", comment=f"Tâche faite : {task.title}. {comment}")
        definition = self.engine.definition(case.process)
        if case.stuck_reason == definition.task_overdue.reason:
            still_overdue = self.session.scalar(
                select(Task.id).where(
                    Task.case_id == case.id,
                    Task.status == TaskStatus.OPEN.value,
                    Task.overdue_at.is_not(None),
                )
            )
            if still_overdue is None:
                self.clear_stuck(case)
        case.version += 1
        case.updated_at = self.now

    # Stuck, comments ----------------------------------------------------------------

    def mark_stuck(self, case: Case, rule: StuckRule, **details: Any) -> None:
        """Mark the case stuck with the rule's French sentence and recommended action."""
        case.stuck_reason = rule.reason
        case.stuck_message = rule.message.format_map(_Unknown(details))
        case.stuck_action = rule.action
        case.stuck_since = self.now
        self.record(
            case,
            Actor.system("moteur"),
            kind="stuck",
            from_state=case.state,
            to_state=case.state,
            comment=case.stuck_message,
            payload={"reason": rule.reason},
        )

    def clear_stuck(self, case: Case) -> None:
        case.stuck_reason = case.stuck_message = case.stuck_action = None
        case.stuck_since = None

    def comment(self, case: Case, actor: Actor, text: str) -> None:
        self.record(case, actor, kind="comment", comment=text)

    def record(self, case: Case, actor: Actor, *, kind: str = "transition", **fields: Any) -> None:
        """Add a line to the case's audit trail, written when the transaction settles:
        the events of a transaction go in one batched ``INSERT``, in the order they
        happened, without an ORM object each (every transition writes one)."""
        self._events.append(
            (
                case,
                {
                    "at": self.now,
                    "actor": str(actor),
                    "kind": kind,
                    **_EVENT_FIELDS,
                    "payload": {},
                    **fields,
                },
            )
        )
