"""The back-office's part of each process: its registry, one line per process.

A module here (``admin/processes/<process>.py``) declares ``ACTIONS``, the staff actions
its definition's stuck rules may recommend besides its triggers (action name → French
label), checked at start against the definitions (``coopflow.house``). An action with a
form on the case page is also a :class:`admin.case_actions.StaffAction` in the module's
``FORMS``, and its route a method of the module's ``Routes``, mixed into the case view:
the case pages stay generic and look the process's module up here.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from admin.case_actions import StaffAction
from admin.processes import (
    affiliation,
    banque_postale_transfer,
    card_order,
    emergency_advance,
    iban,
    invitation,
    kyc,
)
from admin.processes.task_pages import TaskPage

PROCESS_ACTIONS: dict[str, ModuleType] = {
    "invitation": invitation,
    "kyc": kyc,
    "iban": iban,
    "affiliation": affiliation,
    "banque_postale_transfer": banque_postale_transfer,
    "emergency_advance": emergency_advance,
    "card_order": card_order,
}


def forms_of(process: str) -> tuple[StaffAction, ...]:
    """The staff actions of ``process`` that have a form on the case page."""
    module = PROCESS_ACTIONS.get(process)
    return tuple(getattr(module, "FORMS", ())) if module else ()


def pages_of(process: str) -> tuple[TaskPage, ...]:
    """The staff tasks of ``process`` with a page of their own (``PAGES``)."""
    module = PROCESS_ACTIONS.get(process)
    return tuple(getattr(module, "PAGES", ())) if module else ()


def handled_by_pages(case: Any) -> set[str]:
    """The triggers a task page offered on ``case`` fires: not offered as generic forms."""
    return {t for page in pages_of(case.process) if page.offered(case) for t in page.triggers}


def routes() -> tuple[type, ...]:
    """The route classes of every process, for the case view to mix in."""
    return tuple(m.Routes for m in PROCESS_ACTIONS.values() if hasattr(m, "Routes"))
