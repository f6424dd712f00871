"""The fields of an outside system's JSON event (a webhook's body), read with the French
message of each problem added to ``errors``: every webhook reads them alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def text(
    document: dict[str, Any], key: str, limit: int, errors: list[str], *, required: bool = False
) -> str:
    """The text ``document[key]``, stripped; ``""`` (and a message) when it is wrong."""
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        errors.append(f"{key} manquant ou invalide : texte attendu.")
        return ""
    if len(value) > limit or any(ord(c) < 32 for c in value):
        errors.append(f"{key} invalide : au plus {limit} caractères, sans caractère de contrôle.")
        return ""
    return value.strip()


def moment(value: Any, errors: list[str], key: str = "eventDate") -> datetime | None:
    """An ISO 8601 date with its time zone (``Z`` included), else ``None`` and a message."""
    if isinstance(value, str):
        try:
            found = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            found = None
        if found is not None and found.tzinfo is not None:
            return found
    errors.append(f"{key} invalide : une date ISO 8601 avec fuseau horaire est attendue.")
    return None
