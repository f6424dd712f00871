"""French typography and wording in every template: pages, emails, PDFs.

:class:`FrenchTypography` is a Jinja extension. When a template is compiled, its own
text gets a non-breaking space before « : ; ! ? » and inside « » (``french_spacing``),
and each ``{{ … }}`` printed as text goes through the same rule at render time when it
is plain text (a flash message, an error, a label composed in Python). Left as they
are: what is inside a tag (attribute values, among them what a form sends back), the
contents of ``<pre>``, ``<textarea>``, ``<style>`` and ``<script>``, and markup
(``Markup``: form widgets, macros). A ``.txt`` template (an email's text part) is text
throughout. So a template is written with ordinary spaces, and stays right when edited.

The filters ``de`` and ``la_cooperative`` put the articles French wants before a name
typed by people: « la plateforme de l'OCCE 06 », « la Coopérative du Port » (not « la
coopérative Coopérative du Port »).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jinja2 import Environment, Undefined
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from markupsafe import Markup

from workflows.formatting import french_spacing

#: Elements whose contents are shown (or sent) exactly as written.
VERBATIM = frozenset({"pre", "textarea", "style", "script"})
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)")
#: A vowel (or a mute h) after « de » makes it « de l' ».
_ELIDED = re.compile(r"[aeiouyàâäéèêëîïôöùûüœh]", re.I)
#: A coop name that already says « coopérative » (« Coopérative … », « Coop … »).
_SAYS_COOPERATIVE = re.compile(r"coop(é|e)?(rative)?\b", re.I)


def french_text(value: Any) -> Any:
    """``french_spacing`` of what ``value`` prints as (a string, a refused line of a
    file…); markup and undefined values as they are."""
    if hasattr(value, "__html__") or isinstance(value, Undefined | int | float):
        return value
    return french_spacing(str(value))


def de(name: str) -> str:
    """« de l'OCCE 06 », « de Paris »: the preposition before a name."""
    name = name.strip()
    return f"de l'{name}" if _ELIDED.match(name) else f"de {name}"


def la_cooperative(name: str, strong: bool = False) -> str | Markup:
    """« la coopérative Les Mimosas », but « la Coopérative du Port » for a name that
    already says it; ``strong``: the name in bold (HTML emails)."""
    name = name.strip()
    shown: str | Markup = Markup("<strong>{}</strong>").format(name) if strong else name
    if _SAYS_COOPERATIVE.match(name):
        return Markup("la {}").format(shown) if strong else f"la {shown}"
    return Markup("la coopérative {}").format(shown) if strong else f"la coopérative {shown}"


class _Html:
    """Where a template's text is, as its source goes by: in a tag, in a verbatim
    element, or text a reader reads."""

    def __init__(self, plain: bool) -> None:
        self.plain = plain
        self.in_tag = False
        self.quote: str | None = None
        self.opening: str | None = None
        self.verbatim: str | None = None

    @property
    def is_text(self) -> bool:
        return self.plain or not (self.in_tag or self.verbatim)

    def feed(self, data: str) -> str:
        """``data`` with the French spaces where it is text."""
        if self.plain:
            return french_spacing(data)
        out: list[str] = []
        i, n = 0, len(data)
        while i < n:
            if self.verbatim:
                end = data.lower().find(f"</{self.verbatim}", i)
                if end < 0:
                    out.append(data[i:])
                    break
                out.append(data[i:end])
                i, self.verbatim = end, None
            elif self.in_tag:
                c = data[i]
                if self.quote:
                    self.quote = None if c == self.quote else self.quote
                elif c in "\"'":
                    self.quote = c
                elif c == ">":
                    self.in_tag = False
                    if self.opening in VERBATIM:
                        self.verbatim = self.opening
                out.append(c)
                i += 1
            else:
                start = data.find("<", i)
                stop = n if start < 0 else start
                out.append(french_spacing(data[i:stop]))
                if start < 0:
                    break
                tag = _TAG.match(data, start)
                self.opening = tag.group(2).lower() if tag and not tag.group(1) else None
                self.in_tag = True
                out.append("<")
                i = start + 1
        return "".join(out)


class FrenchTypography(Extension):
    """The French spaces of every template (see the module's docstring)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.setdefault("french_text", french_text)
        environment.filters.setdefault("de", de)
        environment.filters.setdefault("la_cooperative", la_cooperative)

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        html = _Html(plain=(stream.name or "").endswith(".txt"))
        wrapping = False
        for token in stream:
            if token.type == "data":
                yield Token(token.lineno, "data", html.feed(token.value))
            elif token.type == "variable_begin":
                wrapping = html.is_text
                yield token
                if wrapping:
                    yield Token(token.lineno, "lparen", "(")
            elif token.type == "variable_end" and wrapping:
                wrapping = False
                yield Token(token.lineno, "rparen", ")")
                yield Token(token.lineno, "pipe", "|")
                yield Token(token.lineno, "name", "french_text")
                yield token
            else:
                yield token
