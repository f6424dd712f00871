"""What one engine transaction may do: lock cases, start them, fire their triggers,
queue their steps; written together when it settles (``Engine.transaction``).

What a transition does to a case is :class:`workflows.engine.state_changes.StateChanges`';
the rules between a coop's processes :class:`workflows.engine.coop_rules.CoopRules`'; its
tasks, stuck marks and audit trail :class:`workflows.engine.case_records.CaseRecords`'.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from workflows.engine.actor import Actor
from workflows.engine.context import EngineContext
from workflows.engine.cross_process import school_year_of
from workflows.engine.definition import Definition, GuardContext, Transition
from workflows.engine.errors import CaseNotFound, GuardFailed, TransitionNotAllowed, VersionConflict
from workflows.engine.state_changes import StateChanges
from workflows.models import Case, CaseEvent, Coop, Step, StepStatus, table

#: The engine's logger, as before the unit of work had a module of its own: log
#: filters on « case transition » keep working.
log = logging.getLogger("workflows.engine.engine")


class UnitOfWork(StateChanges):
    """The operations allowed inside one engine transaction."""

    def __init__(self, engine: EngineContext, session: Session) -> None:
        self.engine = engine
        self.session = session
        self.now: datetime = engine.clock.now()
        self.new_steps: list[int] = []
        #: Steps queued by this transaction, flushed together at its end (their ids are
        #: known then): starting a thousand cases is a few batched INSERTs.
        self._queued: list[Step] = []
        #: The same, by case (the key is the case object's ``id()``).
        self._queued_of: dict[int, list[Step]] = {}
        #: Bulk jobs to hand to a worker once this transaction commits.
        self.new_bulk_jobs: list[int] = []
        #: The cases this transaction holds the row lock of: nobody else can change
        #: them until it ends, so locking one again needs no round trip.
        self._locked: dict[int, Case] = {}
        #: The cases that left a state in this transaction: their unfinished steps are
        #: cancelled when it settles.
        self._left: set[int] = set()
        #: The audit events of this transaction, written when it settles.
        self._events: list[tuple[Case, dict[str, Any]]] = []

    def settle(self) -> None:
        """Write what is pending and learn the ids of the queued steps (before commit)."""
        if self._left:
            self._drop_steps_of_left_states()
        self.session.flush()
        if self._events:
            # After the flush: the cases created by this transaction have their ids.
            self.session.execute(
                insert(table(CaseEvent)),
                [{"case_id": case.id, **fields} for case, fields in self._events],
            )
            self._events = []
        self.new_steps.extend(
            step.id for step in self._queued if step.status == StepStatus.PENDING.value
        )
        self._queued = []
        self._queued_of = {}

    # Reading ------------------------------------------------------------------------

    def lock(self, case_id: int) -> Case:
        """Load the case and lock its row until the end of the transaction.

        On PostgreSQL the lock is ``FOR NO KEY UPDATE``: two transactions on one case
        still wait for each other, but a row that refers to the case (a document, a
        step, an event: the foreign key's check takes ``FOR KEY SHARE``) is written
        beside it. ``FOR UPDATE`` made a batch's inserts of documents, which reach
        their cases' rows in the batch's order, deadlock with transitions (B6)."""
        if case_id in self._locked:
            return self._locked[case_id]
        case = self.session.scalars(
            select(Case)
            .where(Case.id == case_id)
            .with_for_update(of=Case, key_share=True)
            .execution_options(populate_existing=True)
        ).one_or_none()
        if case is None:
            raise CaseNotFound(f"Dossier {case_id} introuvable.")
        self._locked[case_id] = case
        return case

    def lock_many(self, case_ids: Iterable[int]) -> dict[int, Case]:
        """Load and lock several cases in one statement, in the order of their ids (the
        one lock order of every transaction that locks several: no deadlock). Cases
        that do not exist are left out."""
        case_ids = list(case_ids)  # read twice below: a generator would be spent
        wanted = sorted(set(case_ids) - self._locked.keys())
        if wanted:
            for case in self.session.scalars(
                select(Case)
                .where(Case.id.in_(wanted))
                .order_by(Case.id)
                .with_for_update(of=Case, key_share=True)
                .execution_options(populate_existing=True)
            ):
                self._locked[case.id] = case
        return {i: self._locked[i] for i in case_ids if i in self._locked}

    def lock_coop(self, coop_id: int) -> Coop | None:
        """The coop's row, locked after all its cases (the engine's lock order: a change
        of the coop waits for a transition of its cases, never the reverse)."""
        self.lock_many(self.session.scalars(select(Case.id).where(Case.coop_id == coop_id)))
        return self.session.scalars(
            select(Coop)
            .where(Coop.id == coop_id)
            .with_for_update(of=Coop, key_share=True)
            .execution_options(populate_existing=True)
        ).one_or_none()

    # Starting and firing ------------------------------------------------------------

    def start(
        self,
        process: str,
        coop_id: int,
        *,
        actor: Actor,
        data: dict[str, Any] | None = None,
        trigger: str | None = None,
        comment: str | None = None,
        school_year: int | None = None,
    ) -> Case:
        """Create a case in its initial state, and fire ``trigger`` at once if given. A
        yearly process's case is of ``school_year`` (by default, the current one)."""
        [case] = self.start_many(
            process,
            [(coop_id, data or {})],
            actor=actor,
            trigger=trigger,
            comment=comment,
            school_year=school_year,
        )
        return case

    def start_many(
        self,
        process: str,
        starts: Iterable[tuple[int, dict[str, Any]]],
        *,
        actor: Actor,
        trigger: str | None = None,
        comment: str | None = None,
        school_year: int | None = None,
    ) -> list[Case]:
        """Start one case per ``(coop_id, data)``, like :meth:`start`: the cases in one
        batched INSERT, their events and steps in a few more when the transaction ends,
        so that an import of ten thousand coops does not pay round trips per case."""
        definition = self.engine.definition(process)
        if definition.yearly and school_year is None:
            school_year = school_year_of(self.now)
        starts = list(starts)
        ad_of = self._ads_of([coop_id for coop_id, _ in starts])
        cases = []
        for coop_id, data in starts:
            if coop_id not in ad_of:
                raise CaseNotFound(f"Coopérative {coop_id} introuvable.")
            cases.append(
                Case(
                    process=process,
                    definition_version=definition.version,
                    school_year=school_year if definition.yearly else None,
                    coop_id=coop_id,
                    ad_id=ad_of[coop_id],
                    state=definition.initial,
                    data=dict(data),
                    version=1,
                    created_at=self.now,
                    updated_at=self.now,
                    state_entered_at=self.now,
                )
            )
        self.session.add_all(cases)
        self.session.flush()
        for case in cases:
            self._locked[case.id] = case  # created by this transaction: nobody else has it
            self.record(case, actor, kind="created", to_state=case.state, comment=comment)
            if trigger is None:
                self._enter(case, definition, definition.state_by_name[case.state].steps)
            else:
                # Passing straight through the initial state: nothing to set up or to leave.
                transition = self._choose(case, definition, trigger, actor, {})
                self._apply(case, definition, transition, actor, {}, comment, fresh=True)
        return cases

    def _ads_of(self, coop_ids: list[int]) -> dict[int, int]:
        """The AD of each coop: from the coops this session holds, the others read in
        one statement per thousand (not one per coop)."""
        ad_of: dict[int, int] = {}
        unknown = []
        for coop_id in dict.fromkeys(coop_ids):
            coop = self.session.identity_map.get(identity_key(Coop, coop_id))
            if coop is not None:
                ad_of[coop_id] = coop.ad_id
            else:
                unknown.append(coop_id)
        for start in range(0, len(unknown), 1000):
            chunk = unknown[start : start + 1000]
            rows = self.session.execute(select(Coop.id, Coop.ad_id).where(Coop.id.in_(chunk)))
            ad_of.update((coop_id, ad_id) for coop_id, ad_id in rows)
        return ad_of

    def fire(
        self,
        case_id: int,
        trigger: str,
        *,
        actor: Actor,
        expected_version: int | None = None,
        payload: dict[str, Any] | None = None,
        comment: str | None = None,
    ) -> Case:
        """Fire ``trigger`` on the case: lock, check, change state, audit, queue steps.

        A :class:`ConflictError` (version changed, trigger not allowed here, a guard
        that does not hold) is raised before anything is written: the caller may go on
        with its transaction."""
        case = self.lock(case_id)
        if expected_version is not None and case.version != expected_version:
            raise VersionConflict(
                "Ce dossier vient d'être modifié par quelqu'un d'autre. "
                "Rechargez la page pour voir son état actuel."
            )
        definition = self.engine.definition(case.process)
        payload = dict(payload or {})
        transition = self._choose(case, definition, trigger, actor, payload)
        self._apply(case, definition, transition, actor, payload, comment)
        return case

    def allowed(self, case: Case, actor_kind: str) -> list[Transition]:
        """The transitions ``actor_kind`` may fire now (guards evaluated)."""
        definition = self.engine.definition(case.process)
        out = []
        for t in definition.triggers_from(case.state, actor_kind):
            ctx = GuardContext(case, self.session, {}, self.now, actor_kind)
            if not any(definition.guards[g](ctx) for g in t.guards):
                out.append(t)
        return out

    def _choose(
        self,
        case: Case,
        definition: Definition,
        trigger: str,
        actor: Actor,
        payload: dict[str, Any],
    ) -> Transition:
        if case.state not in definition.state_by_name:
            raise TransitionNotAllowed(
                f"Ce dossier est à l'état « {case.state} » de la version "
                f"{case.definition_version} du processus, que la version {definition.version} "
                "n'a plus : il doit d'abord être migré (coopflow migrate-cases)."
            )
        candidates = definition.candidates(trigger, case.state)
        state_label = definition.label(case.state)
        if not candidates:
            # Staff read it (a stale page, a bulk report): the action's label, not its code.
            label = next((t.label for t in definition.transitions if t.trigger == trigger), trigger)
            raise TransitionNotAllowed(
                f"Action « {label} » impossible : le dossier est à l'état « {state_label} »."
            )
        permitted = [t for t in candidates if actor.kind in t.by]
        if not permitted:
            raise TransitionNotAllowed(
                f"Action « {candidates[0].label} » non autorisée pour vous "
                f"(dossier à l'état « {state_label} »)."
            )
        reasons: list[str] = []
        ctx = GuardContext(case, self.session, payload, self.now, actor.kind, actor.id)
        for t in permitted:
            failed = [msg for g in t.guards if (msg := definition.guards[g](ctx))]
            if not failed:
                return t
            reasons.extend(failed)
        raise GuardFailed(" ".join(dict.fromkeys(reasons)))
