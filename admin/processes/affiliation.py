"""The affiliation's staff actions: validating the three items of a submitted
affiliation (payment received, signed commitment received, change form handled), and
granting a late coop a new deadline."""

from __future__ import annotations

from workflows.processes.affiliation.definition import VALIDATE_ITEMS

#: The staff actions its stuck reasons recommend besides its triggers (coopflow.house).
ACTIONS = {VALIDATE_ITEMS: "Valider les pièces"}
