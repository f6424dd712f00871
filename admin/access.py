"""Who may see what in the back-office: staff only, each AD its own coops.

Every view mixes in :class:`StaffView`. The scope is one rule (:mod:`workflows.scope`),
applied in the list queries and again on every page or action reached by id: national
staff see every AD, everyone else (AD staff, read-only accounts) only the coops of their
own AD.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import abort, request, url_for
from flask_login import current_user
from sqlalchemy import select

from admin import french
from web.auth import StaffPrincipal, current_staff, to_login
from web.login import safe_next

# The scope's SQL conditions, for the views that import them from here.
from workflows.models import AD
from workflows.scope import ad_condition, case_condition  # noqa: F401

#: Flask-Admin's generic editing endpoints: never reachable here, whatever the flags say.
#: (``export`` only reads: a view opts in with :class:`admin.export.ModelExport`, which
#: writes the list through the scoped ``get_query``; elsewhere ``can_export`` is off.)
EDITING_ENDPOINTS = frozenset(
    {
        "create_view",
        "edit_view",
        "delete_view",
        "action_view",
        "ajax_update",
        "ajax_lookup",
        "details_view",
    }
)


def staff() -> StaffPrincipal:
    """The logged-in staff member; a view only runs once :class:`StaffView` let it in."""
    principal = current_staff()
    if principal is None:
        abort(403)
    return principal


def acting_staff() -> StaffPrincipal:
    """The staff member about to change something: read-only accounts are refused."""
    principal = staff()
    if not principal.can_act:
        abort(403)
    return principal


def back_office_next(target: str | None, default: str | None = None) -> str:
    """Only back-office paths of this site: never redirect staff elsewhere (after the
    login, a form, an export), else ``default`` (the home page)."""
    return safe_next(target, default or url_for("admin.index"), under="/admin")


def referring_page(default: str | None = None) -> str:
    """The back-office page the request came from (a form's, an export link's)."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc and referrer.netloc != request.host:
        return back_office_next(None, default)
    query = f"?{referrer.query}" if referrer.query else ""
    return back_office_next(referrer.path + query, default)


def ads_in_scope(session: Any, principal: StaffPrincipal) -> list[AD]:
    """The ADs ``principal`` may see, by code: every AD for national staff, else theirs."""
    query = select(AD).where(ad_condition(principal, AD.id)).order_by(AD.code)
    return list(session.scalars(query))


class StaffView:
    """Mixed into every back-office view: staff only, and French templates.

    Anonymous visitors go to the staff login page; a mandataire's session gets 403.
    """

    def is_accessible(self) -> bool:
        return current_staff() is not None

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:  # a posted form: back to its page, text kept
            return to_login("admin.login", home=url_for("admin.index"), under="/admin")
        abort(403)

    def render(self, template: str, **kwargs: Any) -> str:
        # Flask-Admin adds its own ``_template_args`` last: the French wording wins.
        self._template_args.update(french.TEMPLATE_ARGS)  # type: ignore[attr-defined]
        return super().render(template, **kwargs)  # type: ignore[misc, no-any-return]


class ReadOnlyModelView(StaffView):
    """A list that only reads: changes go through the explicit actions of each page."""

    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = False
    can_export = False
    column_display_actions = False
    page_size = 50
    #: No ``count(*)`` of the whole table on every page (emails grow without bound).
    simple_list_pager = True

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        refused = super()._handle_view(name, **kwargs)  # type: ignore[misc]
        if refused is None and name in EDITING_ENDPOINTS:
            abort(404)
        return refused

    def get_empty_list_message(self) -> str:
        return "Aucun élément."

    def search_placeholder(self) -> str:
        return "Rechercher"
