"""The example's staff action: the recommended action of a refused signature."""

ACTIONS = {"call_mandataire": "Appeler le mandataire"}
