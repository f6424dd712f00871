"""Amounts of money: typed by people (« 1 800,00 », « 1800.5 », « 12 € »), read into
integer cents, never through a float; and written out in words for letters and
contracts (« mille huit cents euros »).

Shown in figures by :func:`workflows.formatting.euros` (« 1 800,00 € »).
"""

from __future__ import annotations

import re

from workflows.formatting import euros

_EUROS = re.compile(r"^([0-9]{1,7})(?:[,.]([0-9]{1,2}))?$")
#: The spaces people type between thousands (and paste from a PDF or a bank's page).
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]")


def parse_euros(raw: object, *, maximum_cents: int) -> int:
    """Cents from « 12,50 », « 12.5 », « 12 », « 1 200,00 € » (empty: 0); ValueError with
    a French sentence for anything else or above ``maximum_cents``."""
    text = _SPACES.sub("", str(raw if raw is not None else "").strip().replace("€", ""))
    if not text:
        return 0
    match = _EUROS.match(text)
    if match is None:
        raise ValueError("Indiquez un montant en euros, par exemple 12,50.")
    cents = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if cents > maximum_cents:
        raise ValueError(f"Le montant ne peut pas dépasser {euros(maximum_cents)}.")
    return cents


def parse_amount(raw: object, *, maximum_cents: int, zero_allowed: bool = False) -> int:
    """A required amount above zero, in cents: what a form asks (a balance, an advance,
    funds received). ValueError with the French sentence shown next to the field.
    ``zero_allowed``: « 0,00 » is an answer (a balance declared of an empty account)."""
    text = str(raw if raw is not None else "").strip()
    if not _SPACES.sub("", text.replace("€", "")):
        raise ValueError("Indiquez le montant en euros, par exemple 1 800,00.")
    if text.lstrip().startswith(("-", "−")):
        raise ValueError("Le montant ne peut pas être négatif.")
    cents = parse_euros(text, maximum_cents=maximum_cents)
    if cents == 0 and not zero_allowed:
        raise ValueError("Le montant doit être supérieur à 0,00 €.")
    return cents


def in_words(cents: int) -> str:
    """The amount in French words, as a letter writes it under the figures:
    « mille huit cents euros », « un million d'euros », « zéro euro »,
    « cent trente-six euros et quatre-vingt-dix-neuf centimes », « un centime ».

    num2words reads the numbers (« quatre-vingts », « deux cents », « vingt et un »);
    its currency mode is not used: it writes « zéro euros », « et zéro centimes » and
    « un million euros », and reads an ``int`` as cents."""
    from num2words import num2words

    if cents < 0:
        raise ValueError(f"montant négatif : {cents}")
    units, rest = divmod(cents, 100)
    parts = []
    if units or not rest:
        words = num2words(units, lang="fr")
        if units in (0, 1):
            parts.append(f"{words} euro")
        elif words.endswith(("million", "millions", "milliard", "milliards")):
            parts.append(f"{words} d'euros")
        else:
            parts.append(f"{words} euros")
    if rest:
        parts.append(f"{num2words(rest, lang='fr')} centime{'s' if rest > 1 else ''}")
    return " et ".join(parts)
