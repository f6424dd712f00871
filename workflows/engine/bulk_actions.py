"""What a bulk job does to one case: fire a trigger, retry the failed step, assign.

Each action runs inside the item's transaction, on the locked case, after
:mod:`workflows.engine.bulk` checked the scope and the version; it raises a
:class:`~workflows.engine.errors.CoopflowError` with the French reason when it cannot be done
now, and returns what it did, in French, for the report. The staff member is the actor
of every audit event, with the job's comment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select

from workflows.engine import assignment, steps
from workflows.engine.definition import STAFF, Definition
from workflows.engine.engine import Actor, UnitOfWork
from workflows.engine.errors import TransitionNotAllowed, ValidationError
from workflows.models import BulkJob, Case, StaffUser, Step, StepStatus

# The scope's rule for one row, for workflows.engine.bulk, which imports it from here.
from workflows.scope import can_act_on, is_acting_staff  # noqa: F401

FIRE, RETRY_STEP, ASSIGN = "fire", "retry_step", "assign"
ACTIONS = (FIRE, RETRY_STEP, ASSIGN)


def staff_triggers(definitions: Mapping[str, Definition]) -> dict[str, str]:
    """The triggers staff may fire in bulk in some process, with their French label."""
    out: dict[str, str] = {}
    for definition in definitions.values():
        for t in definition.transitions:
            if STAFF in t.by and t.bulk:
                out.setdefault(t.trigger, t.label)
    return out


def action_label(
    definitions: Mapping[str, Definition], action: str, params: Mapping[str, Any]
) -> str:
    """The action in French, as the confirmation and the report say it."""
    if action == FIRE:
        trigger = str(params.get("trigger", ""))
        return staff_triggers(definitions).get(trigger, trigger)
    if action == RETRY_STEP:
        return "Relancer l'étape en échec"
    if action == ASSIGN:
        if params.get("assignee_id") is None:
            return "Retirer l'assignation"
        return f"Assigner à {params.get('assignee_name', '')}"
    return action


def checked_params(tx: UnitOfWork, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The action's parameters as the job stores them, or :class:`ValidationError`."""
    if action == FIRE:
        trigger = str(params.get("trigger", ""))
        if trigger not in staff_triggers(tx.engine.definitions):
            raise ValidationError(f"Action inconnue : « {trigger} ».")
        return {"trigger": trigger}
    if action == RETRY_STEP:
        return {}
    if action == ASSIGN:
        assignee_id = params.get("assignee_id")
        if assignee_id is None:
            return {"assignee_id": None}
        assignee = tx.session.get(StaffUser, assignee_id) if isinstance(assignee_id, int) else None
        if assignee is None or not is_acting_staff(assignee):
            raise ValidationError("Choisissez un membre de l'équipe qui peut traiter ces dossiers.")
        return {"assignee_id": assignee.id, "assignee_name": assignee.full_name}
    raise ValidationError(f"Action inconnue : « {action} ».")


def _comment(job: BulkJob) -> str:
    return f"{job.comment} (action groupée n° {job.id})"


def _fire(tx: UnitOfWork, job: BulkJob, case: Case, staff: StaffUser) -> str:
    definition = tx.engine.definition(case.process)
    trigger = job.params["trigger"]
    before = definition.label(case.state)
    tx.fire(
        case.id,
        trigger,
        actor=Actor.staff(staff),
        expected_version=case.version,
        comment=_comment(job),
    )
    label = action_label(tx.engine.definitions, FIRE, job.params)
    return f"{label} : {before} → {definition.label(case.state)}"


def _retry_step(tx: UnitOfWork, job: BulkJob, case: Case, staff: StaffUser) -> str:
    definition = tx.engine.definition(case.process)
    failed = [
        s
        for s in tx.session.scalars(
            select(Step)
            .where(Step.case_id == case.id, Step.status == StepStatus.FAILED.value)
            .order_by(Step.id.desc())
        )
        if s.args.get("state") == case.state
    ]
    if not failed:
        raise TransitionNotAllowed(
            f"aucune étape en échec à relancer (état actuel : {definition.label(case.state)})"
        )
    step = steps.retry(tx, failed[0].id, Actor.staff(staff), _comment(job))
    return f"étape « {definition.step_by_name[step.name].label} » relancée"


def _assign(tx: UnitOfWork, job: BulkJob, case: Case, staff: StaffUser) -> str:
    name = assignment.assign(
        tx,
        case,
        Actor.staff(staff),
        job.params.get("assignee_id"),
        comment=_comment(job),
        payload={"bulk_job_id": job.id},
        known_as=str(job.params.get("assignee_name")),
    )
    return f"assigné à {name}"


ACT: dict[str, Callable[[UnitOfWork, BulkJob, Case, StaffUser], str]] = {
    FIRE: _fire,
    RETRY_STEP: _retry_step,
    ASSIGN: _assign,
}


def act(tx: UnitOfWork, job: BulkJob, case: Case, staff: StaffUser) -> str:
    """Do the job's action to ``case``; returns what was done, in French."""
    return ACT[job.action](tx, job, case, staff)
