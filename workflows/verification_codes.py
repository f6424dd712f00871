"""Verification codes printed on attestations: ``7KQ4-M2XD-9PLA``.

Twelve characters of Crockford's base32 (no I, L, O, U: nothing to misread between 1
and I, 0 and O), drawn by ``secrets``: 60 bits, so that codes of every document ever
issued do not collide in practice (a million codes: a chance in a billion), and a code
cannot be guessed from another one. The column is unique all the same: a collision
fails the transaction that stores it, and the step is run again with new codes.

Anyone may check a code at ``/verification`` (``web.verification`` reads what people
type with :func:`normalized`).
"""

from __future__ import annotations

import re
import secrets

#: Crockford's base32 alphabet.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS, GROUP_SIZE = 3, 4
LENGTH = GROUPS * GROUP_SIZE
#: What people may type for a character of the alphabet (Crockford's decoding).
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u00a0\u202f._]+")


def new_verification_code() -> str:
    """A fresh code, grouped by four: ``7KQ4-M2XD-9PLA``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return _grouped(raw)


def normalized(typed: str | None) -> str | None:
    """The code ``typed`` means (case, spaces and dashes as people type them, O for 0,
    I or L for 1), grouped as printed; ``None`` when it cannot be a code."""
    if not typed:
        return None
    raw = _SEPARATORS.sub("", typed[:100]).upper().translate(_READ_AS)
    if len(raw) != LENGTH or any(c not in ALPHABET for c in raw):
        return None
    return _grouped(raw)


def _grouped(raw: str) -> str:
    return "-".join(raw[i : i + GROUP_SIZE] for i in range(0, LENGTH, GROUP_SIZE))
