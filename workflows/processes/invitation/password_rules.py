"""The password rules of the platform (seed 000, « Impératifs »), each reported alone."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

#: The special characters the platform accepts, as its password page lists them.
SPECIAL_CHARACTERS = "*!?#;%$^.\\/€£"
MAX_LENGTH = 128
#: Names this short are only refused when equal to the password, not when contained
#: in it ("Li" would otherwise forbid every password containing "li").
SHORT_NAME = 3


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email: str


@dataclass(frozen=True)
class Rule:
    code: str
    label: str
    failed: Callable[[str, Person, int], list[str]]


def _fold(text: str) -> str:
    """Case- and accent-insensitive form: « Éloïse » and « eloise » are the same."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _contains(password: str, value: str) -> bool:
    folded, needle = _fold(password), _fold(value).strip()
    if not needle:
        return False
    if len(needle) < SHORT_NAME:
        return folded == needle
    return needle in folded


def _length(pw: str, _p: Person, minimum: int) -> str | None:
    if len(pw) < minimum:
        return f"Le mot de passe doit contenir au moins {minimum} caractères."
    if len(pw) > MAX_LENGTH:
        return f"Le mot de passe ne doit pas dépasser {MAX_LENGTH} caractères."
    return None


def _digit(pw: str, _p: Person, _m: int) -> str | None:
    return None if re.search(r"\d", pw) else "Le mot de passe doit contenir au moins un chiffre."


def _cases(pw: str, _p: Person, _m: int) -> str | None:
    lower = any(c.islower() for c in pw)
    upper = any(c.isupper() for c in pw)
    if lower and upper:
        return None
    missing = "une lettre minuscule" if not lower else "une lettre majuscule"
    if not lower and not upper:
        missing = "une lettre minuscule et une lettre majuscule"
    return f"Le mot de passe doit contenir au moins {missing}."


def _special(pw: str, _p: Person, _m: int) -> str | None:
    if any(c in SPECIAL_CHARACTERS for c in pw):
        return None
    listed = " ".join(SPECIAL_CHARACTERS)
    return f"Le mot de passe doit contenir au moins un caractère spécial parmi {listed}"


def _different(pw: str, p: Person, _m: int) -> list[str]:
    errors = []
    if _contains(pw, p.first_name):
        errors.append("Le mot de passe ne doit pas contenir votre prénom.")
    if _contains(pw, p.last_name):
        errors.append("Le mot de passe ne doit pas contenir votre nom.")
    local = p.email.split("@", 1)[0]
    if _contains(pw, p.email) or _contains(pw, local):
        errors.append("Le mot de passe ne doit pas contenir votre adresse email.")
    return errors


def _one(
    check: Callable[[str, Person, int], str | None],
) -> Callable[[str, Person, int], list[str]]:
    def rule(pw: str, p: Person, m: int) -> list[str]:
        msg = check(pw, p, m)
        return [msg] if msg else []

    return rule


RULES: tuple[Rule, ...] = (
    Rule("different", "Être différent de votre prénom, votre nom et votre email", _different),
    Rule("digit", "Au moins un chiffre", _one(_digit)),
    Rule("cases", "Au moins une lettre minuscule et une lettre majuscule", _one(_cases)),
    Rule(
        "special",
        f"Au moins un caractère spécial parmi {' '.join(SPECIAL_CHARACTERS)}",
        _one(_special),
    ),
    Rule("length", "Au moins {minimum} caractères", _one(_length)),
)


def requirements(minimum: int) -> list[str]:
    """The « Impératifs » as the password page lists them."""
    return [r.label.format(minimum=minimum) for r in RULES]


def check_password(password: str, person: Person, *, minimum: int = 8) -> list[str]:
    """Every rule the password breaks, one French sentence each (empty: accepted)."""
    return [msg for rule in RULES for msg in rule.failed(password, person, minimum)]
