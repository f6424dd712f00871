"""The example's steps: ``prepare`` records that it ran (once per step row)."""

from __future__ import annotations

from workers.context import StepContext
from workflows.engine.steps import Outcome

#: The step ids ``prepare`` ran for, in order.
RAN: list[int] = []


def prepare(ctx: StepContext) -> Outcome:
    RAN.append(ctx.step.id)
    return Outcome(result={"document": "prêt"})


STEPS = {"prepare": prepare}
