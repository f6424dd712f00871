"""Steps of ``card_order``: SCAFFOLD, replaced by the real handlers this session."""

from __future__ import annotations

from workers.context import StepContext
from workflows.engine.errors import PermanentStepError
from workflows.engine.steps import Outcome
from workflows.processes.card_order.definition import DEFINITION


def _not_written(ctx: StepContext) -> Outcome:
    raise PermanentStepError("SCAFFOLD: étape pas encore écrite.")


STEPS = {step.name: _not_written for step in DEFINITION.steps}
