"""Definition versions: a case keeps the version it started with; a version that renames
or removes a state ships a :class:`~workflows.engine.definition.StateMapping`, which
``coopflow migrate-cases`` applies to the cases of earlier versions, one audited event
per case.

A version that only adds states or transitions needs no mapping: its earlier cases go on
as they are (their states still exist) and are brought to the new number by the same
command.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from workflows.engine.actor import Actor
from workflows.engine.engine import Engine
from workflows.models import Case

log = logging.getLogger(__name__)

#: Cases migrated per transaction.
BATCH = 500


@dataclass
class MigrationReport:
    """Per process: how many cases were brought to the current version, and how many of
    them changed state."""

    migrated: dict[str, int] = field(default_factory=dict)
    renamed: dict[str, int] = field(default_factory=dict)


def pending(engine: Engine) -> dict[str, int]:
    """Cases of an earlier version than their definition's, per process."""
    counts: dict[str, int] = {}
    with engine.db.read() as session:
        for name, definition in engine.definitions.items():
            n = session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.process == name, Case.definition_version < definition.version)
            )
            if n:
                counts[name] = int(n)
    return counts


def migrate_cases(
    engine: Engine, processes: Iterable[str] | None = None, *, actor: Actor | None = None
) -> MigrationReport:
    """Bring every case of an earlier version to its definition's version, its state
    mapped; each case locked, its version counter bumped, an event in its history."""
    actor = actor or Actor.system("migration des dossiers")
    report = MigrationReport()
    names = list(processes) if processes is not None else list(engine.definitions)
    for name in names:
        definition = engine.definition(name)
        while True:
            with engine.transaction() as tx:
                ids = list(
                    tx.session.scalars(
                        select(Case.id)
                        .where(Case.process == name, Case.definition_version < definition.version)
                        .order_by(Case.id)
                        .limit(BATCH)
                    )
                )
                for case in tx.lock_many(ids).values():
                    before, version = case.state, case.definition_version
                    after = definition.map_state(version, before)
                    case.state = after
                    case.definition_version = definition.version
                    case.version += 1
                    case.updated_at = tx.now
                    tx.record(
                        case,
                        actor,
                        kind="migration",
                        from_state=before,
                        to_state=after,
                        comment=f"Processus mis à jour : version {version} → "
                        f"{definition.version}"
                        + (f", état « {before} » devenu « {after} »." if after != before else "."),
                        payload={"from_version": version, "to_version": definition.version},
                    )
                    report.migrated[name] = report.migrated.get(name, 0) + 1
                    if after != before:
                        report.renamed[name] = report.renamed.get(name, 0) + 1
            if len(ids) < BATCH:
                break
    log.info("cases migrated", extra={"migrated": report.migrated, "renamed": report.renamed})
    return report
