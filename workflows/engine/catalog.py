"""The definitions an engine runs, checked against each other and indexed once: which
processes may start when a case enters a state (their prerequisites)."""

from __future__ import annotations

from collections.abc import Mapping

from workflows.engine.definition import Definition
from workflows.engine.errors import DefinitionError


class Catalog:
    """The definitions by name, and ``dependents``: ``(process, state)`` → the
    definitions with a prerequisite that entering that state may meet."""

    def __init__(self, definitions: Mapping[str, Definition]) -> None:
        self.definitions: dict[str, Definition] = dict(definitions)
        problems = check_rules(self.definitions)
        if problems:
            raise DefinitionError("; ".join(problems))
        self.dependents: dict[tuple[str, str], list[Definition]] = {}
        for d in self.definitions.values():
            for p in d.prerequisites:
                for state in p.states:
                    self.dependents.setdefault((p.process, state), []).append(d)


def check_rules(defs: Mapping[str, Definition]) -> list[str]:
    """What is wrong in the prerequisites and effects between definitions (unknown
    processes, states or triggers, a cycle of prerequisites), for the start-up check."""
    problems: list[str] = []
    for d in defs.values():
        for p in d.prerequisites:
            other = defs.get(p.process)
            if other is None:
                problems.append(f"{d.name}: prerequisite on unknown process {p.process!r}")
                continue
            if p.process == d.name:
                problems.append(f"{d.name}: a process cannot wait on itself")
            missing = set(p.states) - set(other.state_by_name)
            if missing:
                problems.append(f"{d.name}: prerequisite {p.process} has no states {missing}")
            if p.this_year and not other.yearly:
                problems.append(f"{d.name}: {p.process} is not yearly (this_year)")
        for e in d.effects:
            other = defs.get(e.process)
            if e.state not in d.state_by_name:
                problems.append(f"{d.name}: effect on entering unknown state {e.state!r}")
            if other is None:
                problems.append(f"{d.name}: effect on unknown process {e.process!r}")
            elif not any(t.trigger == e.trigger for t in other.transitions):
                problems.append(f"{d.name}: effect fires unknown trigger {e.process}.{e.trigger}")
    # A cycle of prerequisites would leave every case of it waiting for ever.
    needs = {d.name: {p.process for p in d.prerequisites} for d in defs.values()}
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            problems.append("prerequisites in a cycle: " + " → ".join((*path, name)))
            return
        if name in seen:
            return
        seen.add(name)
        for other in needs.get(name, ()):
            visit(other, (*path, name))

    for name in needs:
        visit(name, ())
    return problems
