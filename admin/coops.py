"""« Coopératives »: the coops of the staff member's scope, with their mandataire,
exportable (CSV, XLSX) as filtered or searched; each name leads to the coop's page
(:mod:`admin.coop_page`)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_admin.contrib.sqla import ModelView
from markupsafe import Markup
from sqlalchemy import or_
from sqlalchemy.orm import Query, selectinload

from admin.access import ReadOnlyModelView, ad_condition, staff
from admin.coop_edit import CoopEdit
from admin.coop_page import CoopPage
from admin.export import ModelExport
from admin.queries import COOP_SEARCHED, MANDATAIRE_SEARCHED
from workflows.models import Coop
from workflows.search import contains


def _mandataire_emails(view: Any, context: Any, model: Coop, name: str) -> str:
    return ", ".join(m.email for m in model.mandataires)


def _name_link(view: Any, context: Any, model: Coop, name: str) -> Markup:
    url = url_for(".coop_page", coop_id=model.id)
    return Markup('<a href="{}">{}</a>').format(url, model.name)


class CoopView(CoopEdit, CoopPage, ModelExport, ReadOnlyModelView, ModelView):
    column_list = ("ad", "affiliation_number", "name", "school_name", "mandataire_email")
    column_export_list = (
        "ad",
        "affiliation_number",
        "name",
        "school_name",
        "postal_code",
        "city",
        "school_email",
        "mandataire_email",
    )
    export_basename = "cooperatives"
    column_labels = {
        "ad": "AD",
        "affiliation_number": "N° d'affiliation",
        "name": "Nom",
        "school_name": "École",
        "postal_code": "Code postal",
        "city": "Commune",
        "school_email": "Email de l'école",
        "mandataire_email": "Email du mandataire",
    }
    column_sortable_list = ("affiliation_number", "name", "school_name", ("ad", "ad.code"))
    column_default_sort = [("ad_id", False), ("affiliation_number", False)]
    #: The search itself is :meth:`_apply_search` (the mandataire's email included).
    column_searchable_list = ("name", "affiliation_number")
    column_formatters = {
        "ad": lambda v, c, m, n: m.ad.code,
        "name": _name_link,
        "mandataire_email": _mandataire_emails,
    }
    #: Plain values in files: the name without its link.
    column_formatters_export = {
        "ad": lambda v, c, m, n: m.ad.code,
        "mandataire_email": _mandataire_emails,
    }

    def get_query(self) -> Query[Any]:
        query = super().get_query().filter(ad_condition(staff()))
        return query.options(selectinload(Coop.mandataires))

    def get_count_query(self) -> Query[Any]:
        return super().get_count_query().filter(ad_condition(staff()))

    def _apply_search(
        self, query: Any, count_query: Any, joins: Any, count_joins: Any, search: str
    ) -> Any:
        # EXISTS on the mandataires rather than Flask-Admin's join: a coop whose
        # mandataire changed has two of them and would be listed twice.
        # Each word, case and accents aside (« exupery » finds « Exupéry »), in the
        # coop's name or number or in its mandataires' names or emails.
        for term in search.split():
            condition = or_(
                contains(COOP_SEARCHED, term),
                Coop.mandataires.any(contains(MANDATAIRE_SEARCHED, term)),
            )
            query = query.filter(condition)
            if count_query is not None:
                count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    def search_placeholder(self) -> str:
        return "Nom, n° d'affiliation, mandataire ou email"
