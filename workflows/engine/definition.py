"""Process definitions as data, built into one shared ``transitions`` Machine each.

A process's ``definition.py`` (``workflows/processes/invitation/definition.py``...)
declares, top to bottom: its states, transitions, timers, steps and stuck rules with the
classes below. The engine never
creates a Machine per case: it asks the definition's single Machine which transitions
exist and evaluates the named guards itself, inside the database transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from transitions import Machine

from workflows.engine.cross_process import Effect, Prerequisite, unmet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workflows.models import Case

#: Who may fire a transition. ``system`` covers steps, timers and the scheduler.
STAFF, MANDATAIRE, SYSTEM = "staff", "mandataire", "system"
ANYONE = frozenset({STAFF, MANDATAIRE, SYSTEM})

#: The recommended action for a failed step: run the step again.
RETRY_STEP = "retry_step"


@dataclass(frozen=True)
class StuckRule:
    """Why a case is stuck, in French, and the action that unblocks it."""

    reason: str
    message: str
    action: str
    action_label: str
    #: The reason in a few words, for the filters and counts of the stuck list.
    title: str = ""


#: The recommended action for a task past its due date: do the task.
DO_TASK = "do_task"


@dataclass(frozen=True)
class TaskRule:
    """A human task for staff opened on entering a state, due ``due`` later."""

    kind: str
    title: str
    due: timedelta
    #: The payload field of the transition that becomes the task's note (a message).
    note_from: str | None = None


@dataclass(frozen=True)
class State:
    name: str
    label: str
    steps: tuple[str, ...] = ()
    final: bool = False
    #: Entering this state makes the case stuck until it leaves it.
    stuck: StuckRule | None = None
    #: Only when this holds of the entering transition's payload (« refused a second
    #: time »): a self-transition without it re-enters the state unstuck.
    stuck_when: Callable[[dict[str, Any]], bool] | None = None
    #: A final state that ends the process without its result (cancelled, refused).
    failed: bool = False
    #: Entering this state opens a task for staff, closed when the case leaves it.
    task: TaskRule | None = None
    #: The mandataire has something to do in this state: the label of the portal's
    #: button (« Vérifier mon espace »). Such a state notifies the mandataire.
    mandataire_action: str | None = None
    #: The state as the portal tells the mandataire, when ``label`` (staff's words)
    #: speaks of them in the third person (« À vérifier par vous »).
    portal_label: str | None = None


@dataclass(frozen=True)
class Transition:
    trigger: str
    source: str | tuple[str, ...]
    #: ``None`` is an internal transition: the state and its timers stay as they are.
    dest: str | None
    label: str
    by: frozenset[str] = frozenset({SYSTEM})
    guards: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    #: Offered as a bulk action: not when it needs details of one case (an address...).
    bulk: bool = True
    #: An internal transition that lifts the case's stuck mark (the reason explained,
    #: nothing else to do again: the state's steps, tasks and effects are not redone).
    unsticks: bool = False

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else self.source


@dataclass(frozen=True)
class TimerRule:
    """After ``after`` in ``state``, fire ``trigger`` or mark the case ``stuck``."""

    name: str
    state: str
    after: timedelta | str
    trigger: str | None = None
    stuck: StuckRule | None = None
    #: What staff read in the history and the case's deadlines (« Premier rappel au
    #: mandataire »); required of the registered processes (``coopflow.house``).
    label: str = ""


@dataclass(frozen=True)
class StepRule:
    name: str
    #: What staff read (« Envoi de l'invitation »): the history, the steps, the retries.
    label: str
    #: Trigger fired when the step succeeds, unless its handler returns another outcome.
    on_done: str | None = None
    max_attempts: int = 5


@dataclass(frozen=True)
class StateMapping:
    """How the states of the cases of ``from_version`` read in the next version: each
    state renamed or removed, to the state its cases go to (the others keep theirs).
    Applied by ``coopflow migrate-cases`` (:mod:`workflows.engine.versions`)."""

    from_version: int
    states: dict[str, str] = field(default_factory=dict)


@dataclass
class GuardContext:
    """What a guard may look at: the locked case, the session, the payload, the time."""

    case: Case
    session: Session
    payload: dict[str, Any]
    now: datetime
    actor_kind: str
    #: The staff member's or mandataire's id when one fires it (``None``: the system, or
    #: a list of what may be fired, made for no one in particular).
    actor_id: int | None = None


#: A guard returns ``None`` when it holds, else the French sentence saying why not.
Guard = Callable[[GuardContext], str | None]


def text_required(field: str, *, empty: str, maximum: int, too_long: str) -> Guard:
    """A guard on a text of the payload (a comment, a message, a reason): ``empty`` when
    it is blank, ``too_long`` (« … {maximum} caractères au plus ») past ``maximum``."""

    def guard(ctx: GuardContext) -> str | None:
        text = str(ctx.payload.get(field) or "").strip()
        if not text:
            return empty
        if len(text) > maximum:
            return too_long.format(maximum=maximum)
        return None

    return guard


#: A duration computed for one case (e.g. the AD's invitation validity), from the
#: moment it enters the timer's state (``case.state_entered_at``); ``None``: no timer
#: this time (a reminder whose day has passed).
Duration = Callable[["Case", "Session"], timedelta | None]


@dataclass
class Definition:
    name: str
    version: int
    title: str
    initial: str
    states: list[State]
    transitions: list[Transition]
    timers: list[TimerRule] = field(default_factory=list)
    steps: list[StepRule] = field(default_factory=list)
    guards: dict[str, Guard] = field(default_factory=dict)
    durations: dict[str, Duration] = field(default_factory=dict)
    #: The named durations in French, for the diagrams (« la validité du lien »).
    duration_labels: dict[str, str] = field(default_factory=dict)
    #: The states of the coop's other processes this one needs, all of them: its case
    #: starts by itself in the transaction that meets the last one (a scheduler sweep
    #: catches up). A transition's guard may name one (``Prerequisite.guard``).
    prerequisites: tuple[Prerequisite, ...] = ()
    #: When the initial state is where a case waits for its prerequisites: the trigger
    #: the engine fires once they are met. ``None``: the case is created only then.
    start_trigger: str | None = None
    #: « When a case enters S, fire T on the coop's case of P. »
    effects: tuple[Effect, ...] = ()
    #: One case per coop and school year (``Case.school_year``).
    yearly: bool = False
    #: What the earlier versions' cases become (a version renamed or removed states).
    mappings: tuple[StateMapping, ...] = ()
    #: The portal's checklist: position, title for the mandataire (the process title
    #: when empty).
    checklist_position: int = 99
    checklist_title: str = ""
    #: The portal page where the mandataire acts on this process.
    portal_path: str | None = None
    #: A process the mandataire asks for, when they need it (an emergency advance):
    #: the button that asks (« Demander une avance »), offered on the checklist only
    #: while every one of ``offered_when`` is met; the line is not shown otherwise.
    request_action: str | None = None
    offered_when: tuple[Prerequisite, ...] = ()
    #: How a step that exhausted its retries reads in the stuck list.
    step_failed: StuckRule = field(
        default_factory=lambda: StuckRule(
            "step_failed",
            "L'étape « {step} » a échoué : {error}",
            RETRY_STEP,
            "Relancer l'étape",
            "Étape en échec",
        )
    )

    #: How a task past its due date reads in the stuck list (waiting on staff past SLA).
    task_overdue: StuckRule = field(
        default_factory=lambda: StuckRule(
            "task_overdue",
            "La tâche « {task} » n'est pas faite : échéance du {due} dépassée.",
            DO_TASK,
            "Traiter la tâche",
            "Tâche en retard",
        )
    )

    def __post_init__(self) -> None:
        self.guards = {
            **self.guards,
            **{p.guard: _prerequisite_guard(p) for p in self.prerequisites},
        }
        self.state_by_name = {s.name: s for s in self.states}
        self.step_by_name = {s.name: s for s in self.steps}
        expanded: list[Transition] = []
        for t in self.transitions:
            sources = self._expand(t.sources)
            expanded.append(replace(t, source=sources))
        self.transitions = expanded
        self._check()
        self.machine = Machine(
            model=None,
            states=[s.name for s in self.states],
            initial=self.initial,
            transitions=[
                {
                    "trigger": t.trigger,
                    "source": list(t.sources),
                    "dest": t.dest,
                    "conditions": list(t.guards),
                }
                for t in self.transitions
            ],
            auto_transitions=False,
            send_event=True,
            name=self.name,
        )
        self._meta = {
            (t.trigger, source, t.dest): t for t in self.transitions for source in t.sources
        }
        if self.start_trigger is not None and not self.candidates(self.start_trigger, self.initial):
            raise ValueError(f"{self.name}: no {self.start_trigger!r} from {self.initial!r}")
        self._check_mappings()

    def _expand(self, sources: Iterable[str]) -> tuple[str, ...]:
        """``*`` means every state that is not final."""
        out: list[str] = []
        for source in sources:
            if source == "*":
                out.extend(s.name for s in self.states if not s.final)
            else:
                out.append(source)
        return tuple(out)

    def _check(self) -> None:
        names = set(self.state_by_name)
        for t in self.transitions:
            unknown = {*t.sources, t.dest} - names - {None}
            if unknown:
                raise ValueError(f"{self.name}.{t.trigger}: unknown states {unknown}")
            missing = [g for g in t.guards if g not in self.guards]
            if missing:
                raise ValueError(f"{self.name}.{t.trigger}: unknown guards {missing}")
            for step in t.steps:
                if step not in self.step_by_name:
                    raise ValueError(f"{self.name}.{t.trigger}: unknown step {step}")
        for s in self.states:
            for step in s.steps:
                if step not in self.step_by_name:
                    raise ValueError(f"{self.name}.{s.name}: unknown step {step}")
        for timer in self.timers:
            if (timer.trigger is None) == (timer.stuck is None):
                raise ValueError(f"{self.name}.{timer.name}: a timer fires a trigger or sticks")
            if isinstance(timer.after, str) and timer.after not in self.durations:
                raise ValueError(f"{self.name}.{timer.name}: unknown duration {timer.after}")

    def _check_mappings(self) -> None:
        for mapping in self.mappings:
            if not 1 <= mapping.from_version < self.version:
                raise ValueError(
                    f"{self.name}: mapping from version {mapping.from_version}, "
                    f"the definition is version {self.version}"
                )
            for old in mapping.states:
                final = self.map_state(mapping.from_version, old)
                if final not in self.state_by_name:
                    raise ValueError(
                        f"{self.name}: v{mapping.from_version} {old!r} ends in unknown "
                        f"state {final!r}"
                    )

    # Queries -----------------------------------------------------------------------

    def map_state(self, version: int, state: str) -> str:
        """The state, in this version, of a case of ``version`` at ``state``."""
        for mapping in sorted(self.mappings, key=lambda m: m.from_version):
            if mapping.from_version >= version:
                state = mapping.states.get(state, state)
        return state

    def candidates(self, trigger: str, state: str) -> list[Transition]:
        """The transitions the Machine has for ``trigger`` from ``state``, in order."""
        found = self.machine.get_transitions(trigger=trigger, source=state)
        return [self._meta[(trigger, state, t.dest)] for t in found]

    def triggers_from(self, state: str, actor_kind: str | None = None) -> list[Transition]:
        """Transitions that may fire from ``state`` (by ``actor_kind`` when given)."""
        out = []
        for trigger in self.machine.get_triggers(state):
            for t in self.candidates(trigger, state):
                if actor_kind is None or actor_kind in t.by:
                    out.append(t)
                    break
        return out

    @property
    def stuck_rules(self) -> list[StuckRule]:
        """Every way a case of this process can be stuck."""
        rules = [s.stuck for s in self.states if s.stuck is not None]
        rules += [t.stuck for t in self.timers if t.stuck is not None]
        return [*rules, self.step_failed, self.task_overdue]

    def timers_for(self, state: str) -> list[TimerRule]:
        return [t for t in self.timers if t.state == state]

    def label(self, state: str) -> str:
        return self.state_by_name[state].label

    def portal_label(self, state: str) -> str:
        """The state in the mandataire's words (the portal, its checklist)."""
        found = self.state_by_name[state]
        return found.portal_label or found.label

    def duration(self, timer: TimerRule, case: Case, session: Session) -> timedelta | None:
        if isinstance(timer.after, timedelta):
            return timer.after
        return self.durations[timer.after](case, session)


def _prerequisite_guard(prerequisite: Prerequisite) -> Guard:
    """A guard that holds while the coop meets ``prerequisite``; else its reason."""

    def guard(ctx: GuardContext) -> str | None:
        missing = unmet(ctx.session, ctx.case.coop_id, [prerequisite], ctx.now, known=[ctx.case])
        return prerequisite.reason if missing else None

    return guard
