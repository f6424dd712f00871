"""The registry of process definitions: one line per process, by name.

Each process is a package beside this one (``invitation/``, ``space_check/``...) whose
``definition.py`` declares its states, transitions, timers, steps and stuck rules."""

from __future__ import annotations

from workflows.engine.definition import Definition
from workflows.processes.affiliation.definition import DEFINITION as affiliation
from workflows.processes.banque_postale_transfer.definition import (
    DEFINITION as banque_postale_transfer,
)
from workflows.processes.card_order.definition import DEFINITION as card_order
from workflows.processes.emergency_advance.definition import DEFINITION as emergency_advance
from workflows.processes.iban.definition import DEFINITION as iban
from workflows.processes.invitation.definition import DEFINITION as invitation
from workflows.processes.kyc.definition import DEFINITION as kyc
from workflows.processes.space_check.definition import DEFINITION as space_check

DEFINITIONS: dict[str, Definition] = {
    d.name: d
    for d in (
        invitation,
        space_check,
        kyc,
        iban,
        affiliation,
        banque_postale_transfer,
        emergency_advance,
        card_order,
    )
}
