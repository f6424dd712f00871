"""Steps of ``kyc`` (being built: every handler refuses to run until written)."""

from __future__ import annotations

from workers.context import StepContext
from workflows.engine.steps import Outcome
from workflows.processes.kyc.definition import DEFINITION


def _not_built(ctx: StepContext) -> Outcome:
    raise NotImplementedError(f"étape {ctx.step.name} pas encore écrite")


STEPS = {step.name: _not_built for step in DEFINITION.steps}
