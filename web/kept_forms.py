"""A form posted after its session ended loses nothing a person typed.

When a form cannot be taken (its session ended: staff idle, a new password, a
cancelled account; or its CSRF token no longer matches the session), :func:`keep` puts
its posted text, secrets left out, in the session, and the request is sent to the page
the form was on (through the right login page when nobody is logged in any more). That
page, next opened with a GET, gets the text back in the same form's fields
(:func:`init_app`): a comment is typed once.

The session is a signed cookie (about 4 KB): text past :data:`MAX_KEPT` is not kept.
"""

from __future__ import annotations

import contextlib
import html
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, flash, request, session
from markupsafe import escape

from web.forms import safe_next

#: Where the kept form waits in the session.
KEPT = "kept_form"
#: The longest text kept (characters, every field together).
MAX_KEPT = 2500
#: A kept form not given back within this time is forgotten (seconds): it never fills a
#: form days later.
KEPT_FOR = 3600
#: Never kept: what a field of these names holds is a secret.
SECRET = re.compile(r"password|passe|confirmation|csrf|token|jeton|secret", re.I)

#: Told on the login page when a form's session had ended.
SESSION_ENDED = "Votre session a expiré\u00a0: reconnectez-vous pour continuer."
SESSION_ENDED_KEPT = "Votre session a expiré\u00a0: reconnectez-vous, votre saisie a été conservée."
#: Told when a form's CSRF token no longer matched its session (a login in another tab,
#: a page left open for long): the page comes back.
FORM_EXPIRED = "Ce formulaire avait expiré\u00a0: rien n'a été enregistré."
#: Told on the page the form was on, its text back in it.
TEXT_KEPT = "Votre saisie a été conservée\u00a0: vérifiez-la puis envoyez de nouveau le formulaire."


def page_of_form(default: str, *, under: str = "/") -> str:
    """The page the posted form was on (its ``Referer``, a GET page of this site under
    ``under``), else ``default``: never the URL the form posts to."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc and referrer.netloc != request.host:
        return default
    query = f"?{referrer.query}" if referrer.query else ""
    return safe_next(referrer.path + query, default, under=under)


def keep(page: str) -> bool:
    """Keep the posted fields (no secret) for ``page``; ``False`` when there was none
    to keep, or too much for the session."""
    fields: list[list[str]] = []
    for name, value in request.form.items(multi=True):
        if SECRET.search(name) or not value.strip():
            continue
        fields.append([name, value])
    if not fields or sum(len(v) for _, v in fields) > MAX_KEPT:
        session.pop(KEPT, None)
        return False
    session[KEPT] = {
        "page": urlsplit(page).path,
        "action": request.path,
        "fields": fields,
        "at": int(time.time()),
    }
    return True


def _kept() -> dict[str, Any] | None:
    """The kept form, if there is one still fresh (an old one is dropped)."""
    kept = session.get(KEPT)
    if not isinstance(kept, dict):
        return None
    at = kept.get("at")
    if not isinstance(at, int) or time.time() - at > KEPT_FOR:
        session.pop(KEPT, None)
        return None
    return kept


@contextlib.contextmanager
def kept_across() -> Iterator[None]:
    """Around a ``session.clear()`` (a login): the kept form survives it."""
    kept = session.get(KEPT)
    yield
    if kept is not None:
        session[KEPT] = kept


def after_login(target: str) -> str:
    """``target``; when the kept form is for it, a word that its text is back."""
    kept = _kept()
    if kept is not None and kept.get("page") == urlsplit(target).path:
        flash(TEXT_KEPT, "info")
    return target


def init_app(app: Flask) -> None:
    @app.after_request
    def give_back(response: Response) -> Response:
        if request.method != "GET" or KEPT not in session:
            return response
        kept = _kept()
        if (
            kept is None
            or kept.get("page") != request.path
            or response.status_code != 200
            or response.mimetype != "text/html"
            or response.direct_passthrough
        ):
            return response
        session.pop(KEPT, None)
        page = response.get_data(as_text=True)
        response.set_data(refill(page, str(kept.get("action", "")), kept.get("fields", [])))
        return response


_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
_ACTION = re.compile(r"""\baction\s*=\s*["']([^"']*)["']""", re.I)
#: Marks the fields given back while the form is rewritten (removed after).
_MARK = " data-coopflow-given-back"
#: Inputs whose typed value is given back (never a hidden, password, file or box).
_TYPED = {"text", "email", "search", "tel", "url", "number", "date"}


def refill(page: str, action: str, fields: list[Any]) -> str:
    """``page`` with ``fields`` typed back into the first form that posts to ``action``
    (a form without ``action`` posts to the page itself)."""
    for form in _FORM.finditer(page):
        opening = form.group(0)[: form.group(0).index(">") + 1]
        found = _ACTION.search(opening)
        target = urlsplit(html.unescape(found.group(1))).path if found else ""
        if (target or request.path) != action:
            continue
        filled = form.group(0)
        for name, value in _first_values(fields).items():
            filled = _fill(filled, name, value)
        # The browser brings the form into view, its first field given back ready to edit.
        first = re.compile(rf"<(textarea|input)\b(?=[^>]*{_MARK}/?>)")
        filled = first.sub(r"<\1 autofocus", filled, count=1)
        filled = re.sub(rf"{_MARK}(?=/?>)", "", filled)  # not in a value typed by someone
        return page[: form.start()] + filled + page[form.end() :]
    return page


def _first_values(fields: list[Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in fields:
        if isinstance(item, list | tuple) and len(item) == 2:
            values.setdefault(str(item[0]), str(item[1]))
    return values


def _fill(form: str, name: str, value: str) -> str:
    named = rf"""\bname\s*=\s*["']{re.escape(name)}["']"""
    textarea = re.compile(rf"(<textarea\b[^>]*{named}[^>]*>)(.*?)(</textarea>)", re.S | re.I)
    if textarea.search(form):
        return textarea.sub(
            lambda m: m.group(1)[:-1] + _MARK + ">" + str(escape(value)) + m.group(3), form, 1
        )
    element = re.compile(rf"<input\b[^>]*{named}[^>]*>", re.I)

    def typed(match: re.Match[str]) -> str:
        tag = match.group(0)
        kind = re.search(r"""\btype\s*=\s*["']?([\w-]+)""", tag, re.I)
        if kind is not None and kind.group(1).lower() not in _TYPED:
            return tag
        tag = re.sub(r"""\svalue\s*=\s*("[^"]*"|'[^']*')""", "", tag, flags=re.I)
        end = -2 if tag.endswith("/>") else -1
        return f'{tag[:end]} value="{escape(value)}"{_MARK}{tag[end:]}'

    return element.sub(typed, form, 1)
