"""What a step handler is given: its step and the services of the running process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from workflows.steps import ClaimedStep

if TYPE_CHECKING:
    from coopflow.config import Settings
    from workers.mail import Mailer
    from workflows.engine import Engine
    from workflows.security import Links


class Services(Protocol):
    settings: Settings
    engine: Engine
    mailer: Mailer
    links: Links


@dataclass(frozen=True)
class StepContext:
    step: ClaimedStep
    services: Services

    @property
    def engine(self) -> Engine:
        return self.services.engine

    @property
    def log_extra(self) -> dict[str, object]:
        return {"case_id": self.step.case_id, "step": self.step.name, "step_id": self.step.id}
