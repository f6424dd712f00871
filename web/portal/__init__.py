"""The mandataire's portal: the home page (checklist), documents, and one module per
process where the mandataire acts (``invitation``, ``space_check``...).

:data:`PROCESS_PAGES` is the portal's registry, one line per process: its module, whose
``PAGES`` names the page (endpoint) of each state where the mandataire has something
to do. The registries of every layer are checked against each other at start
(``coopflow.house``)."""

from __future__ import annotations

from types import ModuleType

from flask import Flask

from web.portal import documents, home, invitation, password_reset, space_check

PROCESS_PAGES: dict[str, ModuleType] = {
    "invitation": invitation,
    "space_check": space_check,
}

home.bp.register_blueprint(space_check.bp)
home.bp.register_blueprint(documents.bp)


def init_app(app: Flask) -> None:
    """Register the portal's blueprints: ``/mon-espace`` with its nested pages, and the
    pages behind emailed links (invitation, password reset), outside it."""
    app.register_blueprint(home.bp)
    app.register_blueprint(invitation.bp)
    app.register_blueprint(password_reset.bp)
