"""Step handlers, one module per process (``invitation.py``, ``space_check.py``...), each
with its ``STEPS``: the handler of each step of its definition. Each handler is
idempotent and returns an Outcome.

:data:`PROCESS_STEPS` is the workers' registry, one line per process; the registries of
every layer are checked against each other at start (``coopflow.house``).

A kind of step whose runs share work (reading their rows, storing their emails) has a
handler made by ``workers.context.batched``: the runner gives its batch handler the
steps of that kind a message carries together."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from workers.context import StepContext
from workers.steps import invitation, space_check
from workflows.engine.steps import Outcome

Handler = Callable[[StepContext], Outcome]

PROCESS_STEPS: dict[str, Mapping[str, Handler]] = {
    "invitation": invitation.STEPS,
    "space_check": space_check.STEPS,
}

#: By ``(process, step name)``: what the runner looks up.
HANDLERS: dict[tuple[str, str], Handler] = {
    (process, name): handler
    for process, steps in PROCESS_STEPS.items()
    for name, handler in steps.items()
}
