"""The iban's staff actions in the back-office (being built)."""

from __future__ import annotations

from workflows.processes.iban.definition import RESOLVE_MISMATCH, REVIEW_RIB

ACTIONS = {REVIEW_RIB: "Vérifier le RIB", RESOLVE_MISMATCH: "Traiter le signalement"}
