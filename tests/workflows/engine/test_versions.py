"""Definition versions: a case keeps the version it started with; a version that renames
a state ships a mapping, which ``migrate_cases`` applies to the running cases, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.definitions import make_definition
from tests.factories import CoopFactory
from workflows.engine.definition import STAFF, SYSTEM, Definition, StateMapping
from workflows.engine.definition import Transition as T
from workflows.engine.engine import Actor, Engine
from workflows.engine.errors import TransitionNotAllowed
from workflows.engine.versions import migrate_cases, pending
from workflows.models import Case, CaseEvent

BY = frozenset({STAFF, SYSTEM})
ACTOR = Actor.system("test")


def _letters(version: int, waiting: str, mappings: tuple[StateMapping, ...] = ()) -> Definition:
    return make_definition(
        "letters",
        "Courriers",
        [(waiting, "À envoyer"), ("sent", "Envoyé")],
        [T("send", waiting, "sent", "Envoyer", by=BY)],
        version=version,
        mappings=mappings,
    )


V1 = _letters(1, "to_send")
#: Version 2 renames « to_send » to « ready ».
V2 = _letters(2, "ready", (StateMapping(1, {"to_send": "ready"}),))


def test_a_mapping_must_lead_to_a_state_of_the_version():
    with pytest.raises(ValueError, match="unknown state 'nowhere'"):
        _letters(2, "ready", (StateMapping(1, {"to_send": "nowhere"}),))
    with pytest.raises(ValueError, match="mapping from version 2"):
        _letters(2, "ready", (StateMapping(2, {"to_send": "ready"}),))
    assert V2.map_state(1, "to_send") == "ready" and V2.map_state(1, "sent") == "sent"


def test_a_renamed_state_is_migrated_audited_and_then_works(db, clock, ad):
    old = Engine(db, {"letters": V1}, clock=clock)
    coops = [CoopFactory(ad=ad) for _ in range(3)]
    with old.transaction() as tx:
        ids = [tx.start("letters", c.id, actor=ACTOR).id for c in coops]
        tx.fire(ids[2], "send", actor=ACTOR)  # a finished case is brought along too

    new = Engine(db, {"letters": V2}, clock=clock)
    with db.read() as session:
        assert {session.get(Case, i).definition_version for i in ids} == {1}  # kept
    assert pending(new) == {"letters": 3}
    with pytest.raises(TransitionNotAllowed, match="migré"), new.transaction() as tx:
        tx.fire(ids[0], "send", actor=ACTOR)

    report = migrate_cases(new)
    assert report.migrated == {"letters": 3} and report.renamed == {"letters": 2}
    with db.read() as session:
        cases = [session.get(Case, i) for i in ids]
        assert [(c.state, c.definition_version) for c in cases] == [
            ("ready", 2),
            ("ready", 2),
            ("sent", 2),
        ]
        event = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == ids[0], CaseEvent.kind == "migration")
        ).one()
    assert (event.from_state, event.to_state) == ("to_send", "ready")
    assert "version 1 → 2" in event.comment and "migration des dossiers" in event.actor
    assert pending(new) == {} and migrate_cases(new).migrated == {}  # nothing twice

    with new.transaction() as tx:
        tx.fire(ids[0], "send", actor=ACTOR)
