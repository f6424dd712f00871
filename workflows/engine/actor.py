"""Who fires a trigger: a staff member, a mandataire, or the system (step, timer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflows.engine.definition import MANDATAIRE, STAFF, SYSTEM


@dataclass(frozen=True)
class Actor:
    """Who fires a trigger: a staff member, a mandataire, or the system (step, timer)."""

    kind: str
    id: int | None = None
    name: str = ""

    @classmethod
    def staff(cls, user: Any) -> Actor:
        return cls(STAFF, user.id, user.full_name)

    @classmethod
    def mandataire(cls, mandataire: Any) -> Actor:
        return cls(MANDATAIRE, mandataire.id, mandataire.full_name)

    @classmethod
    def system(cls, what: str) -> Actor:
        return cls(SYSTEM, None, what)

    def __str__(self) -> str:
        ident = f"{self.kind}:{self.id}" if self.id is not None else self.kind
        return f"{ident} {self.name}".strip()
