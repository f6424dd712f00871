"""The registry of process definitions, by name."""

from __future__ import annotations

from workflows import invitation
from workflows.definition import Definition

DEFINITIONS: dict[str, Definition] = {d.name: d for d in (invitation.DEFINITION,)}
