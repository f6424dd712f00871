"""Guards on every request, before any view: ids a database can hold, and no NUL
character in the path or in what a form or a query string sends (PostgreSQL refuses it in text: it
would end in a 500 instead of a French refusal)."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from werkzeug.routing import IntegerConverter

#: The largest id of a primary key: ``INTEGER`` (32 bits on PostgreSQL; SQLite's are
#: wider, the schema is the same).
MAX_ID = 2**31 - 1
NUL_REFUSED = "La demande contient un caractère invalide (caractère nul) : rien n'a été enregistré."


class RowIdConverter(IntegerConverter):
    """``<int:…>`` of every route: past :data:`MAX_ID` no row has it, so the page does not
    exist (404) rather than an overflow in the database (500)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Before any route is registered: the converter applies to rules as they are added."""
    app.url_map.converters["int"] = RowIdConverter

    @app.before_request
    def refuse_nul_characters():  # type: ignore[no-untyped-def]
        if request.blueprint == "webhooks":
            return None  # they read their raw, signed body themselves
        fields = [*request.args.items(multi=True), *request.form.items(multi=True)]
        if "\x00" in request.path or any("\x00" in key or "\x00" in value for key, value in fields):
            return render_template("error.html", code=400, message=NUL_REFUSED), 400
        return None
