"""What a transition does to a case inside one engine transaction: leave the old
state (its timers, tasks, unfinished steps, stuck mark), enter the new one (its timers,
task, stuck mark, steps, effects and the cases it lets start), and queue steps as rows
(the outbox).

Part of :class:`UnitOfWork <workflows.engine.unit_of_work.UnitOfWork>` (a mixin, like
:class:`~workflows.engine.case_records.CaseRecords`), which sets these attributes.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import update

from workflows.engine.actor import Actor
from workflows.engine.coop_rules import CoopRules
from workflows.engine.definition import Definition, Transition
from workflows.models import Case, Step, StepStatus, Task, TaskStatus, Timer, table

#: The engine's logger, as before the unit of work had a module of its own: log
#: filters on « case transition » keep working.
log = logging.getLogger("workflows.engine.engine")


class StateChanges(CoopRules):
    """Leaving and entering states, and queueing steps."""

    #: The cases that left a state in this transaction (see ``UnitOfWork``).
    _left: set[int]
    _queued: list[Step]
    _queued_of: dict[int, list[Step]]

    def _drop_steps_of_left_states(self) -> None:
        """Cancel the unfinished steps of the cases that left a state in this transaction:
        one statement for all of them (steps complete in batches, and each completion
        moves a case), run before the final flush and without it. The steps this
        transaction queued are not touched (they belong to the states entered; those
        for a state it left again are dropped in memory by ``_leave``), and the steps it
        finished are written by the flush over this update."""
        queued = [step.id for step in self._queued if step.id is not None]
        steps = table(Step)
        statement = (
            update(steps)
            .where(
                steps.c.case_id.in_(sorted(self._left)),
                steps.c.status.in_([StepStatus.PENDING.value, StepStatus.RUNNING.value]),
            )
            .values(status=StepStatus.CANCELLED.value, updated_at=self.now, finished_at=self.now)
        )
        if queued:
            statement = statement.where(steps.c.id.not_in(queued))
        # On the session's connection: a Core statement, without the ORM's bulk update
        # (which looks for the session's objects to update: none are kept here).
        self.session.connection().execute(statement)
        self._left = set()

    def _apply(
        self,
        case: Case,
        definition: Definition,
        t: Transition,
        actor: Actor,
        payload: dict[str, Any],
        comment: str | None,
        *,
        fresh: bool = False,
    ) -> None:
        from_state = case.state
        steps = list(t.steps)
        if t.dest is not None:
            if not fresh:
                self._leave(case, definition, actor)
            case.state = t.dest
            case.state_entered_at = self.now
            steps.extend(definition.state_by_name[t.dest].steps)
        case.version += 1
        case.updated_at = self.now
        self.record(
            case,
            actor,
            trigger=t.trigger,
            from_state=from_state,
            to_state=case.state,
            payload=payload,
            comment=comment,
        )
        if t.dest is not None:
            self._enter(case, definition, tuple(steps), payload)
        else:
            if t.unsticks:
                self.clear_stuck(case)
            self._queue(case, definition, steps)
        log.info(
            "case transition",
            extra={"case_id": case.id, "trigger": t.trigger, "from": from_state, "to": case.state},
        )

    def _leave(self, case: Case, definition: Definition, actor: Actor) -> None:
        """Leaving a state drops its timers, its unfinished steps and its stuck mark, and
        closes the tasks it opened (the transition is what they waited for).

        Timers and state tasks only exist where the definition declares them: the other
        states skip those statements (a transition is on every step's hot path)."""
        if definition.state_by_name[case.state].task is not None:
            self.session.execute(
                update(Task)
                .where(
                    Task.case_id == case.id,
                    Task.state == case.state,
                    Task.status == TaskStatus.OPEN.value,
                )
                .values(status=TaskStatus.DONE.value, closed_at=self.now, closed_by=str(actor))
                .execution_options(synchronize_session=False)
            )
        if definition.timers_for(case.state):
            self.session.execute(
                update(Timer)
                .where(Timer.case_id == case.id, Timer.closed_at.is_(None))
                .values(closed_at=self.now)
                .execution_options(synchronize_session=False)
            )
        # Its unfinished steps are dropped by one statement for all the cases this
        # transaction moves, just before its final flush (see settle).
        self._left.add(case.id)
        # Steps queued by this transaction for the state left are dropped before written.
        for step in self._queued_of.pop(id(case), ()):
            if step.status == StepStatus.PENDING.value:
                step.status = StepStatus.CANCELLED.value
                step.finished_at = self.now
        self.clear_stuck(case)

    def _enter(
        self,
        case: Case,
        definition: Definition,
        steps: tuple[str, ...],
        details: dict[str, Any] | None = None,
    ) -> None:
        state = definition.state_by_name[case.state]
        # A duration reads settings (an AD's validity), never what this transaction
        # changed: no flush, so the transitions of a batch stay written together.
        with self.session.no_autoflush:
            for timer in definition.timers_for(case.state):
                after = definition.duration(timer, case, self.session)
                if after is None:
                    continue
                self.session.add(
                    Timer(
                        case_id=case.id, name=timer.name, state=case.state, due_at=self.now + after
                    )
                )
        if state.task is not None:
            note = (details or {}).get(state.task.note_from) if state.task.note_from else None
            self.open_task(
                case,
                kind=state.task.kind,
                title=state.task.title,
                due_at=self.now + state.task.due,
                created_by=Actor.system("moteur"),
                state=case.state,
                note=str(note) if note else None,
            )
        if state.stuck is not None and (
            state.stuck_when is None or state.stuck_when(details or {})
        ):
            self.mark_stuck(case, state.stuck, **(details or {}))
        self._queue(case, definition, steps)
        self.apply_effects(case, definition)
        self.start_dependents(case)

    def _queue(
        self, case: Case, definition: Definition, names: list[str] | tuple[str, ...]
    ) -> None:
        for name in names:
            rule = definition.step_by_name[name]
            step = Step(
                case=case,
                name=name,
                args={"state": case.state},
                status=StepStatus.PENDING.value,
                attempts=0,
                max_attempts=rule.max_attempts,
                idempotency_key=f"{case.process}.{name}.{uuid.uuid4().hex}",
                not_before=self.now,
                lease_until=self.now + self.engine.timing.publish_lease,
                created_at=self.now,
                updated_at=self.now,
            )
            self.session.add(step)
            self._queued.append(step)
            self._queued_of.setdefault(id(case), []).append(step)
