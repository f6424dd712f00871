"""What a transaction does for the rules between a coop's processes: start the cases
whose last prerequisite it meets, and apply the effects of the states it enters.

Part of :class:`UnitOfWork <workflows.engine.unit_of_work.UnitOfWork>` (a mixin, like
:class:`~workflows.engine.case_records.CaseRecords`); the rules themselves are data
(:mod:`workflows.engine.cross_process`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select

from workflows.engine.actor import Actor
from workflows.engine.case_records import CaseRecords
from workflows.engine.cross_process import (
    CaseView,
    Effect,
    latest_cases,
    school_year_of,
    unmet,
)
from workflows.engine.definition import SYSTEM, Definition
from workflows.engine.errors import ConflictError
from workflows.models import Case, Coop

#: Who starts a case whose prerequisites are met, in the audit trail.
PREREQUISITES_MET = "prérequis remplis"


class CoopRules(CaseRecords):
    """Prerequisites and effects, applied inside the transaction that changes a case."""

    _locked: dict[int, Case]

    if TYPE_CHECKING:  # UnitOfWork's own, which this mixin is part of
        start: Callable[..., Case]
        fire: Callable[..., Case]

    # Reading ------------------------------------------------------------------------

    def coop_case(self, coop_id: int, process: str) -> CaseView | None:
        """The coop's case of ``process`` (this school year's for a yearly one)."""
        definition = self.engine.definition(process)
        return latest_cases(
            self.session,
            coop_id,
            [process],
            school_year=school_year_of(self.now),
            yearly=frozenset({process}) if definition.yearly else frozenset(),
            known=self._known(coop_id),
        ).get(process)

    def unmet_prerequisites(self, coop_id: int, definition: Definition) -> list[str]:
        """The French reasons of the prerequisites of ``definition`` the coop does not
        meet now, in their order (empty: it may start)."""
        missing = unmet(
            self.session, coop_id, definition.prerequisites, self.now, known=self._known(coop_id)
        )
        return [p.reason for p in missing]

    def _known(self, coop_id: int) -> list[Case]:
        """The coop's cases this transaction holds: their state in memory is the truth."""
        return [c for c in self._locked.values() if c.coop_id == coop_id]

    # Prerequisites ------------------------------------------------------------------

    def start_dependents(self, case: Case) -> None:
        """Start the processes whose last prerequisite ``case`` meets by entering its state."""
        for dependent in self.engine.dependents.get((case.process, case.state), ()):
            self.start_if_ready(case.coop_id, dependent)

    def start_if_ready(self, coop_id: int, definition: Definition) -> Case | None:
        """Start the coop's case of ``definition`` if every prerequisite is met and it has
        not started: create it, or fire ``start_trigger`` on the case waiting in its
        initial state. Serialised per coop by the coop's row lock (the scheduler's sweep
        and a transition may try at once): one case, never two."""
        if self.unmet_prerequisites(coop_id, definition):
            return None
        self.session.execute(
            select(Coop.id).where(Coop.id == coop_id).with_for_update(of=Coop, key_share=True)
        ).first()
        existing = self.coop_case(coop_id, definition.name)
        actor = Actor.system(PREREQUISITES_MET)
        if existing is None:
            return self.start(
                definition.name, coop_id, actor=actor, trigger=definition.start_trigger
            )
        if definition.start_trigger is not None and existing.state == definition.initial:
            return self.fire(existing.id, definition.start_trigger, actor=actor)
        return None

    # Effects ------------------------------------------------------------------------

    def _spawn(self, case: Case, definition: Definition, effect: Effect) -> None:
        """Start the case of ``effect.process`` that ``case`` entering its state asks for."""
        assert effect.start is not None
        if effect.wanted is not None and not effect.wanted(case):
            return
        other = self.engine.definition(effect.process)
        actor = Actor.system(f"dossier {case.id}")
        try:
            with self.session.begin_nested():
                data = effect.start(self.session, case)
                if data is None:
                    return
                started = self.start(
                    effect.process,
                    case.coop_id,
                    actor=actor,
                    data=data,
                    trigger=effect.trigger,
                    comment=f"Suite du dossier {case.id} ({definition.title}) : "
                    f"{definition.label(case.state)}.",
                )
        except ConflictError as refused:
            self.record(
                case,
                actor,
                kind="effect",
                comment=f"Un dossier « {other.title} » n'a pas pu être ouvert : {refused}",
            )
            return
        self.record(
            case,
            Actor.system(definition.title),
            kind="effect",
            comment=f"Nouveau dossier {started.id} ({other.title}).",
        )

    def apply_effects(self, case: Case, definition: Definition) -> None:
        """Fire the triggers the state ``case`` entered asks of the coop's other cases."""
        for effect in definition.effects:
            if effect.state != case.state:
                continue
            if effect.start is not None:
                self._spawn(case, definition, effect)
                continue
            target = self.coop_case(case.coop_id, effect.process)
            if target is None:
                continue
            other = self.engine.definition(effect.process)
            if not any(SYSTEM in t.by for t in other.candidates(effect.trigger, target.state)):
                continue
            label = next(t.label for t in other.transitions if t.trigger == effect.trigger)
            actor = Actor.system(f"dossier {case.id}")
            try:
                self.fire(
                    target.id,
                    effect.trigger,
                    actor=actor,
                    comment=f"Suite du dossier {case.id} ({definition.title}) : "
                    f"{definition.label(case.state)}.",
                )
            except ConflictError as refused:
                self.record(
                    case,
                    actor,
                    kind="effect",
                    comment=f"« {label} » sur le dossier {target.id} ({other.title}) "
                    f"n'a pas pu se faire : {refused}",
                )
                continue
            self.record(
                case,
                Actor.system(definition.title),
                kind="effect",
                comment=f"« {label} » sur le dossier {target.id} ({other.title}).",
            )
