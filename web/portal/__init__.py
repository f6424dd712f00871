"""The mandataire's portal: the home page (checklist), documents, and one module per
process where the mandataire acts (``invitation``, ``space_check``...).

:data:`PROCESS_PAGES` is the portal's registry, one line per process: its module, whose
``PAGES`` names the page (endpoint) of each state where the mandataire has something
to do, and whose ``bp`` holds those pages. The registries of every layer are checked
against each other at start (``coopflow.house``)."""

from __future__ import annotations

from types import ModuleType

from flask import Flask

from web.portal import (
    affiliation,
    banque_postale_transfer,
    card_order,
    documents,
    emergency_advance,
    home,
    iban,
    invitation,
    kyc,
    password_reset,
    space_check,
)

PROCESS_PAGES: dict[str, ModuleType] = {
    "invitation": invitation,
    "space_check": space_check,
    "kyc": kyc,
    "iban": iban,
    "affiliation": affiliation,
    "banque_postale_transfer": banque_postale_transfer,
    "emergency_advance": emergency_advance,
    "card_order": card_order,
}

#: Pages under ``/mon-espace`` (endpoints ``portal.<name>.…``), nested once at import.
NESTED: tuple[ModuleType, ...] = (
    space_check,
    kyc,
    iban,
    affiliation,
    banque_postale_transfer,
    emergency_advance,
    card_order,
    documents,
)
for _module in NESTED:
    home.bp.register_blueprint(_module.bp)


def init_app(app: Flask) -> None:
    """Register the portal's blueprints: ``/mon-espace`` with its nested pages, then the
    pages of the other processes (the invitation's, behind its emailed link) and the
    password reset."""
    app.register_blueprint(home.bp)
    app.register_blueprint(password_reset.bp)
    for module in PROCESS_PAGES.values():
        if module not in NESTED:
            app.register_blueprint(module.bp)
