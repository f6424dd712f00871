"""How a case reads on its page: French labels for states, triggers, steps, actors,
and where the recommended action of a stuck case is."""

from __future__ import annotations

from dataclasses import dataclass

from admin.processes import forms_of
from workflows.engine.definition import DO_TASK, RETRY_STEP, Definition
from workflows.models import Case, CaseEvent, Step, StepStatus

EVENT_KINDS = {
    "created": "Création",
    "transition": "Transition",
    "stuck": "Blocage",
    "comment": "Commentaire",
    "retry": "Relance d'étape",
    "assign": "Assignation",
    "task": "Tâche",
}
STEP_STATUSES = {
    StepStatus.PENDING.value: "en attente",
    StepStatus.RUNNING.value: "en cours",
    StepStatus.DONE.value: "terminée",
    StepStatus.FAILED.value: "en échec",
    StepStatus.CANCELLED.value: "annulée",
}
ACTOR_KINDS = {"staff": "équipe", "mandataire": "mandataire", "system": "système"}


def actor_label(stored: str) -> str:
    """``staff:3 Claire Agent`` → ``Claire Agent (équipe)``; ``system moteur`` →
    ``moteur (système)``."""
    ident, _, name = stored.partition(" ")
    kind = ident.partition(":")[0]
    what = ACTOR_KINDS.get(kind, kind)
    return f"{name} ({what})" if name else what


@dataclass(frozen=True)
class Recommended:
    """The recommended action of a stuck case: its label and the form it points to."""

    label: str
    anchor: str | None


class CasePresenter:
    def __init__(self, case: Case, definition: Definition) -> None:
        self.case = case
        self.definition = definition
        self._triggers: dict[str, str] = {}
        for t in definition.transitions:
            self._triggers.setdefault(t.trigger, t.label)

    @property
    def title(self) -> str:
        return self.definition.title

    def state(self, name: str | None) -> str:
        if name is None:
            return ""
        state = self.definition.state_by_name.get(name)
        return state.label if state else name

    def trigger(self, name: str | None) -> str:
        return self._triggers.get(name, name) if name else ""

    def step(self, step: Step) -> str:
        rule = self.definition.step_by_name.get(step.name)
        return rule.label if rule else step.name

    @staticmethod
    def step_status(step: Step) -> str:
        return STEP_STATUSES.get(step.status, step.status)

    @staticmethod
    def event_kind(event: CaseEvent) -> str:
        return EVENT_KINDS.get(event.kind, event.kind)

    @staticmethod
    def actor(event: CaseEvent) -> str:
        return actor_label(event.actor)

    def recommended(self) -> Recommended | None:
        """Where the form of the recommended action is on the page, if there is one."""
        case = self.case
        if case.stuck_reason is None or case.stuck_action is None:
            return None
        label = next(
            (r.action_label for r in self.definition.stuck_rules if r.reason == case.stuck_reason),
            self.trigger(case.stuck_action),
        )
        if case.stuck_action == RETRY_STEP:
            failed = [s for s in case.steps if s.status == StepStatus.FAILED.value]
            return Recommended(label, f"action-step{failed[-1].id}" if failed else None)
        for action in forms_of(self.definition.name):
            if action.name == case.stuck_action:
                return Recommended(label, action.anchor)
        if case.stuck_action == DO_TASK:
            return Recommended(label, "taches")
        return Recommended(label, f"action-{case.stuck_action}")
