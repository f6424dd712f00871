"""Searching text the way people type it: without caring for case or accents.

« Exupery » finds « Exupéry », « Paquerettes » finds « Pâquerettes », and « Exupéry »
finds « Exupery »: both the searched text and the words typed go through one SQL
function, ``coopflow_fold`` (lower case, accents and ligatures off), so the two sides
are always folded alike, on each backend:

- PostgreSQL: an ``IMMUTABLE`` wrapper of the ``unaccent`` extension (migration 0009),
  so that the searched expressions below have trigram indexes (a ``LIKE '%word%'`` then
  reads the index, not the table);
- SQLite (embedded, small databases that are scanned): :func:`fold`, registered on every
  connection by :mod:`workflows.engine.db`.

Nothing is stored folded: a name corrected by any code path is found at once, and no
column can drift from the one it copies.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, true

FOLD_FUNCTION = "coopflow_fold"
#: What NFKD does not take apart but ``unaccent`` does (the French ligatures, ß).
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})
#: Between two searched columns: a typed word has no space, so it never spans two.
_SPACE: ColumnElement[str] = literal_column("' '")


def fold(text: str | None) -> str | None:
    """``text`` in lower case, without accents or ligatures (« Pâquerettes » → « paquerettes »)."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def searched(*columns: Any) -> ColumnElement[str]:
    """``columns`` joined by spaces and folded: the expression a trigram index serves.

    The indexed expressions of migration 0009 are exactly these (same columns, same
    order, the same literal space): PostgreSQL uses an index only for an identical one.
    """
    joined: Any = columns[0]
    for column in columns[1:]:
        joined = joined.op("||")(_SPACE).op("||")(column)
    folded: ColumnElement[str] = getattr(func, FOLD_FUNCTION)(joined)
    return folded


def contains(expression: ColumnElement[str], word: str) -> ColumnElement[bool]:
    """``expression`` (from :func:`searched`) contains ``word``, case and accents aside;
    ``%`` and ``_`` are plain characters."""
    folded = fold(word) or ""
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    # Folded again by the database: PostgreSQL's ``unaccent`` knows letters NFKD leaves
    # alone (ø, đ, ł), and both sides of the LIKE must be folded by the same function.
    pattern = getattr(func, FOLD_FUNCTION)(f"%{escaped}%")
    return expression.like(pattern, escape="\\")


def contains_words(expression: ColumnElement[str], q: str) -> ColumnElement[bool]:
    """``expression`` contains every word of ``q`` (in any order); no word: any row."""
    words = q.split()
    if not words:
        return true()
    return and_(*(contains(expression, word) for word in words))
