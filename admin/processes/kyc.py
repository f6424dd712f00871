"""The kyc's staff actions in the back-office (being built)."""

from __future__ import annotations

from workflows.processes.kyc.definition import VERIFY_IDENTITY

ACTIONS = {VERIFY_IDENTITY: "Vérifier l'identité"}
