"""Enumerations whose members carry their French label, as staff read them."""

from __future__ import annotations

import enum
from typing import Self


class Labelled(enum.StrEnum):
    """``DONE = "done", "terminé"``: the member is the string ``"done"`` (stored, compared,
    put in URLs), ``DONE.label`` what a page says."""

    label: str

    def __new__(cls, value: str, label: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member
