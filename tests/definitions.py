"""Process definitions written for a test (or a benchmark) in a few words.

Its own module, importing nothing but the engine's definition classes, so that
``bench`` (run from the repository's root, where ``tests`` is importable) can use it
without the test suite's factories."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from workflows.engine.definition import Definition, State, Transition

#: A state: a ``State``, or ``(name, label)`` for one with nothing else to it.
StateSpec = State | tuple[str, str]


def make_definition(
    name: str,
    title: str,
    states: Sequence[StateSpec],
    transitions: Iterable[Transition] = (),
    *,
    final: Iterable[str] | None = None,
    version: int = 1,
    **fields: Any,
) -> Definition:
    """The process ``name`` of version ``version``, starting in its first state.

    ``final`` names its final states: by default the last state only (``()``: none).
    ``fields`` are the other fields of :class:`Definition` (steps, timers, guards…)."""
    built = [s if isinstance(s, State) else State(*s) for s in states]
    finals = {built[-1].name} if final is None else set(final)
    built = [replace(s, final=True) if s.name in finals else s for s in built]
    return Definition(
        name=name,
        version=version,
        title=title,
        initial=built[0].name,
        states=built,
        transitions=list(transitions),
        **fields,
    )
