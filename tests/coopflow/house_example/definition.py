"""The example's definition: prepared by a step once the account is active, then signed
by the mandataire in the portal (or refused: a stuck case staff handle by phone)."""

from __future__ import annotations

from workflows.engine.cross_process import Prerequisite
from workflows.engine.definition import (
    MANDATAIRE,
    Definition,
    State,
    StepRule,
    StuckRule,
)
from workflows.engine.definition import Transition as T

PROCESS = "example"

DEFINITION = Definition(
    name=PROCESS,
    version=1,
    title="Démarche d'exemple",
    initial="preparing",
    states=[
        State("preparing", "En préparation", steps=("prepare",)),
        State("to_sign", "À signer par le mandataire", mandataire_action="Signer le document"),
        State("signed", "Signé", final=True),
        State(
            "refused",
            "Refusé par le mandataire",
            stuck=StuckRule(
                "example_refused",
                "Le mandataire a refusé de signer.",
                "call_mandataire",
                "Appeler le mandataire",
                "Signature refusée",
            ),
        ),
    ],
    transitions=[
        T("prepared", "preparing", "to_sign", "Document préparé"),
        T("sign", "to_sign", "signed", "Signer", by=frozenset({MANDATAIRE})),
        T("refuse", "to_sign", "refused", "Refuser", by=frozenset({MANDATAIRE})),
    ],
    steps=[StepRule("prepare", "Préparation du document", on_done="prepared")],
    prerequisites=(
        Prerequisite("invitation", ("active",), "Disponible dès votre première connexion."),
    ),
    checklist_position=50,
    portal_path="/mon-espace/exemple",
)
