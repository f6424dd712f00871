"""Flask-Admin in French without Flask-Babel: its own catalog for the templates, and
filters whose operation reads in French."""

from __future__ import annotations

from functools import cache
from typing import Any

import flask_admin.translations
from babel.support import Translations
from flask_admin.contrib.sqla import filters as sqla_filters

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
