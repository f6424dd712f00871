"""How a case reads on its page: French labels for states, triggers, steps, timers and
actors, taken from the definitions (never a code name: « Envoi de l'invitation », not
``send_invitation``), its history with what became of each step it queued, its next
deadlines, and where the recommended action of a stuck case is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import url_for

from admin.processes import forms_of, pages_of
from workflows.engine.coop_rules import PREREQUISITES_MET
from workflows.engine.definition import DO_TASK, RETRY_STEP, Definition, TimerRule
from workflows.formatting import datetime_fr, french_spacing
from workflows.models import Case, CaseEvent, Step, StepStatus, Timer

EVENT_KINDS = {
    "created": "Création",
    "transition": "Changement d'état",
    "stuck": "Blocage",
    "comment": "Commentaire",
    "retry": "Relance d'étape",
    "assign": "Assignation",
    "task": "Tâche",
    "effect": "Suite sur un autre dossier",
    "migration": "Mise à jour du processus",
}
#: A transition that stays in its state (a reminder) is an action, not a change of state.
IN_PLACE = "Action"
STEP_STATUSES = {
    StepStatus.PENDING.value: "en attente",
    StepStatus.RUNNING.value: "en cours",
    StepStatus.DONE.value: "terminée",
    StepStatus.FAILED.value: "en échec",
    StepStatus.CANCELLED.value: "annulée",
}
ACTOR_KINDS = {"staff": "équipe", "mandataire": "mandataire", "system": "automatique"}
#: How the engine names itself and the steps and timers that act (``Actor.system``).
ENGINE, STEP, TIMER, CASE = "moteur", "étape ", "minuteur ", "dossier "


def actor_label(stored: str, definition: Definition | None = None, prerequisites: str = "") -> str:
    """Who acted, in French: ``staff:3 Claire Agent`` → ``Claire Agent (équipe)``; the
    steps and timers of the system by their labels in ``definition``
    (``system étape send_invitation`` → ``Étape « Envoi de l'invitation » (automatique)``)."""
    ident, _, name = stored.partition(" ")
    kind = ident.partition(":")[0]
    what = ACTOR_KINDS.get(kind, kind)
    if kind != "system":
        return f"{name} ({what})" if name else what
    if not name or name == ENGINE:
        return "Automatique"
    if name.startswith(STEP):
        rule = definition.step_by_name.get(name[len(STEP) :]) if definition else None
        return f"Étape « {rule.label} » (automatique)" if rule else "Étape automatique"
    if name.startswith(TIMER):
        timer = _timer(definition, name[len(TIMER) :])
        return f"{timer_label(definition, timer)} (délai automatique)" if timer else "Délai"
    if name == PREREQUISITES_MET:
        return f"Démarrage automatique : {prerequisites}" if prerequisites else "Démarrage"
    if name.startswith(CASE) and name[len(CASE) :].isdigit():
        return f"Suite du dossier n° {name[len(CASE) :]} (automatique)"
    return f"{name[:1].upper()}{name[1:]} (automatique)"


def _timer(definition: Definition | None, name: str) -> TimerRule | None:
    if definition is None:
        return None
    return next((t for t in definition.timers if t.name == name), None)


def timer_label(definition: Definition | None, timer: TimerRule) -> str:
    """The timer's label; for a definition without one, what it does."""
    if timer.label:
        return timer.label
    if timer.stuck is not None:
        return timer.stuck.title or "Délai dépassé"
    if definition is not None and timer.trigger is not None:
        for t in definition.transitions:
            if t.trigger == timer.trigger:
                return t.label
    return "Délai"


@dataclass(frozen=True)
class HistoryLine:
    """One line of the history as staff read it."""

    at: datetime
    actor: str
    kind: str
    action: str
    state: str
    comment: str
    #: What became of the steps the event queued (or retried): « Étape « Envoi du
    #: rappel » annulée, non exécutée : … ». Empty when it queued none.
    outcome: str = ""
    #: Every step it queued was cancelled: nothing was sent or done.
    cancelled: bool = False


@dataclass(frozen=True)
class Deadline:
    """Something that will happen to the case by itself, and when (UTC)."""

    label: str
    at: datetime
    detail: str = ""


@dataclass(frozen=True)
class Recommended:
    """The recommended action of a stuck case: its label and the form it points to."""

    label: str
    anchor: str | None
    #: The task's own page, when the action is one (``admin/processes``' ``PAGES``).
    url: str | None = None


class CasePresenter:
    def __init__(
        self,
        case: Case,
        definition: Definition,
        definitions: Mapping[str, Definition] | None = None,
    ) -> None:
        self.case = case
        self.definition = definition
        self.definitions = definitions or {definition.name: definition}
        self._triggers: dict[str, str] = {}
        #: The label of a trigger from a given state: one trigger may read differently
        #: from two states (« Adresse refusée » by the mail server, « Signaler l'adresse
        #: comme refusée » by staff).
        self._from: dict[tuple[str, str], str] = {}
        for t in definition.transitions:
            self._triggers.setdefault(t.trigger, t.label)
            for source in t.sources:
                self._from.setdefault((t.trigger, source), t.label)

    @property
    def title(self) -> str:
        return self.definition.title

    def state(self, name: str | None) -> str:
        if name is None:
            return ""
        state = self.definition.state_by_name.get(name)
        # A state a later version removed: its code name would mean nothing to staff.
        return state.label if state else "un état retiré du processus"

    def trigger(self, name: str | None, source: str | None = None) -> str:
        """The trigger's label (from ``source`` when given)."""
        if not name:
            return ""
        if source is not None and (name, source) in self._from:
            return self._from[(name, source)]
        return self._triggers.get(name, "Action retirée du processus")

    def step(self, step: Step) -> str:
        return self.step_label(step.name)

    def step_label(self, name: str) -> str:
        rule = self.definition.step_by_name.get(name)
        return rule.label if rule else "Étape retirée du processus"

    @staticmethod
    def step_status(step: Step) -> str:
        status = STEP_STATUSES.get(step.status, step.status)
        if _retrying(step):
            status += f", nouvelle tentative le {datetime_fr(step.not_before)}"
        return status

    @staticmethod
    def event_kind(event: CaseEvent) -> str:
        if event.kind == "transition" and event.from_state == event.to_state:
            return IN_PLACE
        return EVENT_KINDS.get(event.kind, "Événement")

    def actor(self, event: CaseEvent) -> str:
        return french_spacing(actor_label(event.actor, self.definition, self.prerequisites()))

    def prerequisites(self) -> str:
        """What the process needed to start, in French: « « Invitation et mot de passe »
        à l'état « Compte actif » »."""
        parts = []
        for p in self.definition.prerequisites:
            other = self.definitions.get(p.process)
            if other is None:
                continue
            states = " ou ".join(
                f"« {other.state_by_name[s].label} »" for s in p.states if s in other.state_by_name
            )
            parts.append(f"« {other.title} » à l'état {states}")
        return ", ".join(parts)

    # The history ----------------------------------------------------------------------

    def history(self, events: Iterable[CaseEvent] | None = None) -> list[HistoryLine]:
        """The case's events, oldest first, each with what became of its steps."""
        events = list(self.case.events if events is None else events)
        steps = list(self.case.steps)
        # A step retried several times: its fate shows on its last retry only.
        last_retry: dict[int, int] = {}
        for e in events:
            step_id = (e.payload or {}).get("step_id") if e.kind == "retry" else None
            if isinstance(step_id, int):
                last_retry[step_id] = e.id
        lines = []
        for e in events:
            action = ""
            queued: list[Step] = []
            if e.kind == "transition":
                action = self.trigger(e.trigger, e.from_state)
                queued = self._queued_by(e, steps)
            elif e.kind == "retry":
                step_id = (e.payload or {}).get("step_id")
                name = str((e.payload or {}).get("step", ""))
                action = f"Relancer l'étape « {self.step_label(name)} »"
                queued = [s for s in steps if s.id == step_id and last_retry.get(s.id) == e.id]
            elif e.trigger:
                action = self.trigger(e.trigger, e.from_state)
            state = self.state(e.to_state)
            if e.from_state and e.from_state != e.to_state:
                state = f"{self.state(e.from_state)} → {state}"
            lines.append(
                HistoryLine(
                    at=e.at,
                    actor=self.actor(e),
                    kind=self.event_kind(e),
                    action=french_spacing(action),
                    state=french_spacing(state),
                    comment=french_spacing(self._comment(e)),
                    outcome=french_spacing(" ; ".join(self._fate(s) for s in queued)),
                    cancelled=bool(queued)
                    and all(s.status == StepStatus.CANCELLED.value for s in queued),
                )
            )
        return lines

    @staticmethod
    def _comment(event: CaseEvent) -> str:
        """The event's comment; a migration's is said again from its payload, as its
        stored sentence names the states by their code names."""
        payload = event.payload or {}
        if event.kind == "migration" and "to_version" in payload:
            return (
                f"Processus mis à jour : version {payload.get('from_version')} → "
                f"{payload['to_version']}."
            )
        return event.comment or ""

    def _queued_by(self, event: CaseEvent, steps: Sequence[Step]) -> list[Step]:
        """The steps a transition queued: written in its transaction (same time), for
        the state it led to, among the steps it and that state declare."""
        names = {
            name
            for t in self.definition.transitions
            if t.trigger == event.trigger and (event.from_state in t.sources)
            for name in t.steps
        }
        if event.to_state != event.from_state and event.to_state in self.definition.state_by_name:
            names.update(self.definition.state_by_name[event.to_state].steps)
        return [
            s
            for s in steps
            if s.name in names
            and s.created_at == event.at
            and s.args.get("state") == event.to_state
        ]

    def _fate(self, step: Step) -> str:
        label = f"Étape « {self.step(step)} »"
        if step.status == StepStatus.DONE.value:
            return f"{label} faite le {datetime_fr(step.finished_at or step.updated_at)}"
        if step.status == StepStatus.CANCELLED.value:
            return f"{label} annulée, non exécutée : le dossier avait changé d'état"
        if step.status == StepStatus.FAILED.value:
            return f"{label} en échec : {step.last_error or 'erreur inconnue'}"
        if step.status == StepStatus.RUNNING.value:
            return f"{label} en cours"
        if _retrying(step):
            return (
                f"{label} en échec pour l'instant ({step.last_error}) : nouvelle tentative "
                f"le {datetime_fr(step.not_before)}"
            )
        return f"{label} en attente"

    # What will happen by itself ----------------------------------------------------------

    def deadlines(self, timers: Iterable[Timer]) -> list[Deadline]:
        """The case's open timers of its state and the retries of its failing steps,
        soonest first."""
        found = []
        for timer in timers:
            rule = _timer(self.definition, timer.name)
            if timer.closed_at is not None or timer.state != self.case.state or rule is None:
                continue
            found.append(Deadline(french_spacing(timer_label(self.definition, rule)), timer.due_at))
        for step in self.case.steps:
            if _retrying(step) and step.args.get("state") == self.case.state:
                found.append(
                    Deadline(
                        french_spacing(f"Nouvelle tentative de l'étape « {self.step(step)} »"),
                        step.not_before,
                        french_spacing(
                            f"tentative {step.attempts + 1} sur {step.max_attempts}, "
                            f"dernière erreur : {step.last_error}"
                        ),
                    )
                )
        return sorted(found, key=lambda d: d.at)

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
        for page in pages_of(self.definition.name):
            if page.name == case.stuck_action and page.offered(case):
                return Recommended(label, None, url_for(page.endpoint, case_id=case.id))
        if case.stuck_action == DO_TASK:
            return Recommended(label, "taches")
        return Recommended(label, f"action-{case.stuck_action}")


def _retrying(step: Step) -> bool:
    """A step that failed and waits for its next attempt (its backoff)."""
    return step.status == StepStatus.PENDING.value and bool(step.last_error)
