"""Step handlers, one module per process (``invitation.py``, ``space_check.py``...), each
with its ``STEPS`` (the handler of each step of its definition), and the ``EMAILS`` and
``DOCUMENTS`` it sends and renders (templates in ``templates/emails/<process>/`` and
``templates/documents/<process>/``). Each handler is idempotent and returns an Outcome.

:data:`PROCESS_STEPS` is the workers' registry, one line per process; the registries of
every layer are checked against each other at start (``coopflow.house``).

A kind of step whose runs share work (reading their rows, storing their emails) has a
handler made by ``workers.context.batched``: the runner gives its batch handler the
steps of that kind a message carries together."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from workers.context import StepContext
from workers.steps import (
    affiliation,
    banque_postale_transfer,
    card_order,
    emergency_advance,
    iban,
    invitation,
    kyc,
    notifications,
    space_check,
)
from workflows.engine.steps import Outcome

Handler = Callable[[StepContext], Outcome]

PROCESS_STEPS: dict[str, ModuleType] = {
    "invitation": invitation,
    "space_check": space_check,
    "kyc": kyc,
    "iban": iban,
    "affiliation": affiliation,
    "banque_postale_transfer": banque_postale_transfer,
    "emergency_advance": emergency_advance,
    "card_order": card_order,
}
#: Steps any process may use (« Une démarche vous attend »).
SHARED_STEPS: tuple[ModuleType, ...] = (notifications,)


def handler_for(process: str, step: str) -> Handler | None:
    """The handler of ``step`` of ``process``, read from the registry at each call (a
    process registered later, as the tests do, is found)."""
    module = PROCESS_STEPS.get(process)
    return None if module is None else module.STEPS.get(step)
