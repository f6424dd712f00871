"""What a bulk job really did, read afterwards, case by case.

A bulk retry or resend is done when its step is queued; whether the case then left its
stuck state is known only once the step ran, maybe minutes later, maybe failing again.
:func:`aftermath` reads it from the case as it is now: no longer stuck, still waiting
for its step (and its next attempt), stuck again since the job acted and why, or still
stuck. The report's page and its export show it beside what the job did.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.engine.bulk_actions import FIRE, RETRY_STEP
from workflows.engine.definition import Definition
from workflows.engine.labelled import Labelled
from workflows.formatting import datetime_fr, french_spacing
from workflows.models import BulkItem, BulkItemStatus, BulkJob, Case, Step, StepStatus

#: The actions whose report says what became of each case: they queue a step.
FOLLOWED = (FIRE, RETRY_STEP)
#: The report's filter: the cases stuck now, whatever the job did to them.
STILL_STUCK = "bloques"


class Fate(Labelled):
    """What became of a case after the job acted on it; its name is the report's column
    and its export's."""

    #: Not stuck now.
    UNSTUCK = "unstuck", "non bloqué"
    #: Its step has not run yet, or failed and waits for its next attempt.
    RUNNING = "running", "en cours"
    #: Stuck again since the job acted on it.
    STUCK_AGAIN = "stuck_again", "bloqué à nouveau"
    #: Stuck since before the job acted on it (skipped, or the action did not unstick).
    STILL_STUCK = "still_stuck", "toujours bloqué"


@dataclass(frozen=True)
class Aftermath:
    fate: Fate
    #: What the fate's name does not say, in French: why it is stuck (« L'étape
    #: « Envoi de l'invitation » a échoué : … ») and since when, when its next attempt
    #: is, the state it is in.
    text: str

    @property
    def stuck(self) -> bool:
        return self.fate in (Fate.STUCK_AGAIN, Fate.STILL_STUCK)

    @property
    def name(self) -> str:
        return self.fate.label


def unfinished_steps(session: Session, case_ids: Iterable[int]) -> dict[int, list[Step]]:
    """The pending or running steps of the cases, by case (for a page of the report)."""
    found: dict[int, list[Step]] = {}
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), 500):
        for step in session.scalars(
            select(Step)
            .where(
                Step.case_id.in_(ids[start : start + 500]),
                Step.status.in_([StepStatus.PENDING.value, StepStatus.RUNNING.value]),
            )
            .order_by(Step.id)
        ):
            found.setdefault(step.case_id, []).append(step)
    return found


def aftermath(
    job: BulkJob,
    item: BulkItem,
    case: Case,
    definition: Definition | None,
    unfinished: Sequence[Step] = (),
) -> Aftermath | None:
    """What became of ``case`` since ``item`` was processed; ``None`` when there is
    nothing to say (an assignment, an item still to process, a skipped case not stuck).
    ``unfinished``: the case's pending or running steps."""
    if item.processed_at is None:
        return None
    if case.stuck_reason is not None:
        why = case.stuck_message or "motif inconnu"
        since = case.stuck_since
        if item.status == BulkItemStatus.DONE.value and since and since >= item.processed_at:
            return _said(Fate.STUCK_AGAIN, f"depuis le {datetime_fr(since)} : {why}")
        return _said(Fate.STILL_STUCK, why)
    if job.action not in FOLLOWED or item.status != BulkItemStatus.DONE.value:
        return None
    waiting = [s for s in unfinished if s.args.get("state") == case.state]
    state = definition.label(case.state) if definition else case.state
    if waiting:
        step = waiting[0]
        rule = definition.step_by_name.get(step.name) if definition else None
        label = rule.label if rule else "étape"
        if step.status == StepStatus.PENDING.value and step.last_error:
            return _said(
                Fate.RUNNING,
                f"l'étape « {label} » a échoué ({step.last_error}), nouvelle tentative le "
                f"{datetime_fr(step.not_before)} (tentative {step.attempts + 1} sur "
                f"{step.max_attempts})",
            )
        return _said(Fate.RUNNING, f"étape « {label} » pas encore faite")
    return _said(Fate.UNSTUCK, f"état actuel : « {state} »")


def _said(fate: Fate, text: str) -> Aftermath:
    return Aftermath(fate, french_spacing(text))
