"""Flask-Admin in French without Flask-Babel: its own catalog for the templates, and
filters whose operation reads in French."""

from __future__ import annotations

from functools import cache
from typing import Any

import flask_admin.translations
from babel.support import Translations
from flask_admin.contrib.sqla import filters as sqla_filters
from sqlalchemy.orm import Query

#: Where Flask-Admin's shipped French wording reads wrong for a button or is missing.
OVERRIDES = {
    "Reset Filters": "Réinitialiser les filtres",
    "Previous": "Précédent",
    "Next": "Suivant",
    "There are no items in the table.": "Aucun élément.",
    "Export": "Exporter",
}


@cache
def _catalog() -> Translations:
    return Translations.load(flask_admin.translations.__path__[0], ["fr"], "admin")


def gettext(string: str, **variables: Any) -> str:
    text = OVERRIDES.get(string) or _catalog().gettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    text = _catalog().ngettext(singular, plural, num)
    return text % variables


#: Passed to every Flask-Admin template in place of its English ``_gettext``.
TEMPLATE_ARGS = {"_gettext": gettext, "_ngettext": ngettext}


class Equals(sqla_filters.FilterEqual):
    """``column = value``, from a list of choices."""

    def operation(self) -> str:
        return "est"


class IsSet(sqla_filters.BaseSQLAFilter):
    """Oui: the column has a value; non: it is empty (e.g. « Bloqué » on ``stuck_reason``)."""

    def __init__(self, column: Any, name: str) -> None:
        super().__init__(column, name, options=(("1", "oui"), ("0", "non")))

    def validate(self, value: str) -> bool:
        return value in {"0", "1"}

    def apply(self, query: Query[Any], value: str, alias: Any = None) -> Query[Any]:
        column = self.get_column(alias)
        return query.filter(column.is_not(None) if value == "1" else column.is_(None))

    def operation(self) -> str:
        return ":"
