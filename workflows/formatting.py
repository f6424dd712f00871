"""How dates and amounts read in French: UTC stored, Europe/Paris shown."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency

PARIS = ZoneInfo("Europe/Paris")


def paris(dt: datetime) -> datetime:
    return dt.astimezone(PARIS)


def date_fr(dt: datetime | None) -> str:
    """``23/11/2026``"""
    return "" if dt is None else paris(dt).strftime("%d/%m/%Y")


def datetime_fr(dt: datetime | None) -> str:
    """``23/11/2026 à 18:05``, Paris time."""
    if dt is None:
        return ""
    return str(format_datetime(dt, "dd/MM/yyyy 'à' HH:mm", tzinfo=PARIS, locale="fr_FR"))


_BEFORE = re.compile(r" +([:;!?»])")
_AFTER = re.compile(r"« +")


def french_spacing(text: str) -> str:
    """French typography of composed text: a non-breaking space before « : ; ! ? » and
    inside the guillemets, whatever spaces the pieces came with."""
    return _AFTER.sub("«\u00a0", _BEFORE.sub("\u00a0\\1", text))


@lru_cache(maxsize=4096)
def euros(cents: int) -> str:
    """``1 234,56 €`` from integer cents, exactly (kept: babel takes 50 µs, and the
    documents of a wave repeat the same few prices)."""
    return str(format_currency(Decimal(cents) / 100, "EUR", locale="fr_FR"))
