"""The registry of process definitions, by name."""

from __future__ import annotations

from workflows import invitation, space_check
from workflows.definition import Definition

DEFINITIONS: dict[str, Definition] = {
    d.name: d for d in (invitation.DEFINITION, space_check.DEFINITION)
}
