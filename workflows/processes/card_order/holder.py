"""The holder's name as Swan prints it on the card (PROVIDERS.md: « first + last name
over 20 characters is abbreviated by Swan »).

Swan does not publish its rule; this one is close to how banks emboss cards: capitals
without accents (« Éloïse Martin » → « ELOISE MARTIN »), and when the whole name is
over :data:`HOLDER_PRINTED_MAX` characters, the first name becomes its initial and a
dot, each part of a compound first name its own (« Jean-Baptiste Martin-Dupont » →
« J.-B. MARTIN-DUPONT »); a last name still too long is cut at the limit. The portal
shows the result before the order: the mandataire knows what the card will read.
"""

from __future__ import annotations

import re
import unicodedata

from workflows.processes.card_order.definition import HOLDER_PRINTED_MAX

#: Letters a card cannot emboss, spelled out (NFKD does not decompose them).
_LIGATURES = str.maketrans({"Œ": "OE", "œ": "oe", "Æ": "AE", "æ": "ae", "ß": "ss"})


def embossed(text: str) -> str:
    """``text`` in capitals without accents, its spaces single."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.upper().split())


def initials(first: str) -> str:
    """« J.-B. » of « Jean-Baptiste », « M. C. » of « Marie Claire », « E. » of « Éloïse »."""
    words = []
    for word in embossed(first).split(" "):
        parts = [p for p in word.split("-") if p]
        words.append("-".join(f"{p[0]}." for p in parts))
    return " ".join(w for w in words if w)


def printed_holder(first: str, last: str) -> str:
    """The name on the card, at most :data:`HOLDER_PRINTED_MAX` characters."""
    whole = embossed(f"{first} {last}")
    if len(whole) <= HOLDER_PRINTED_MAX:
        return whole
    surname = embossed(last)
    short = f"{initials(first)} {surname}".strip()
    if len(short) <= HOLDER_PRINTED_MAX:
        return short
    # The initials first: the last name then fills what is left, cut at the limit.
    return re.sub(r"[ -]+$", "", short[:HOLDER_PRINTED_MAX])


def abbreviated(first: str, last: str) -> bool:
    """Whether the card will not print the name in full."""
    return printed_holder(first, last) != embossed(f"{first} {last}")
