"""The portal's affiliation form in the table of ``test_bad_input_forms``
(``AFFILIATION_FORMS``, merged into ``FORMS``): « Mettre à jour le montant », « Ajouter
la classe », « Supprimer » (``portal.affiliation.save``) and « Envoyer l'adhésion »
(``portal.affiliation.submit``), with the French messages they show, for the error
reader.

Posted by the mandataire of ``test_the_mandataires_forms_refuse_bad_input``: a coop
whose account is active, so its affiliation of the year is open (draft), and whose AD
has no price list for the year: no option is offered (any code is forged), and a
submission otherwise valid is refused for the prices not yet published."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st

from tests.security.bad_input import (
    ANY_CHAR,
    BLANK,
    FOREIGN_DIGITS,
    KNOWN_MESSAGES,
    MALFORMED_EMAILS,
    ODD_WORD,
    in_digits,
    too_long,
)
from tests.security.form_defects import Defect, Form, Values, one, says
from tests.security.form_defects_bank import FOREIGN_TOKEN

#: Every message these forms show, for the error reader (``bad_input.KNOWN_MESSAGES``).
_SHOWN: list[str] = []


def shown(message: str) -> str:
    _SHOWN.append(re.escape(message))
    return message


ONE_FIELD = shown("Rien n'a été enregistré : corrigez le champ signalé ci-dessous.")
FIELDS = shown("Rien n'a été enregistré : corrigez les champs signalés ci-dessous.")
NAME_MISSING = shown("Indiquez le nom ou le niveau de la classe.")
NAME_TOO_LONG = shown("Nom de classe trop long (60 caractères au plus).")
TEACHERS_TOO_LONG = shown("Noms des enseignants trop longs (200 caractères au plus).")
PUPILS_MISSING = shown("Indiquez le nombre d'élèves.")
TEACHERS_MISSING = shown("Indiquez le nombre d'enseignants.")
PUPILS_NOT_A_NUMBER = shown("Le nombre d'élèves doit être un nombre entier (par exemple 23).")
TEACHERS_NOT_A_NUMBER = shown(
    "Le nombre d'enseignants doit être un nombre entier (par exemple 23)."
)
TOO_MANY_PUPILS = shown("Le nombre d'élèves ne peut pas dépasser 60.")
TOO_MANY_TEACHERS = shown("Le nombre d'enseignants ne peut pas dépasser 10.")
TOO_MANY_CLASSES = shown("Déclarez 40 classes au plus.")
UNKNOWN_OPTION = shown(
    "Cette option n'est pas proposée par votre AD pour cette année : rechargez la page "
    "et cochez une option de la liste."
)
NOT_EUROS = shown("Indiquez un montant en euros, par exemple 12,50.")
TOO_MUCH = shown("Le montant ne peut pas dépasser 10 000,00 €.")
FIRST_NAME_MISSING = shown("Indiquez le prénom du nouveau mandataire.")
LAST_NAME_MISSING = shown("Indiquez le nom du nouveau mandataire.")
FIRST_NAME_TOO_LONG = shown("Prénom trop long (100 caractères au plus).")
EMAIL_BAD = shown("Indiquez l'adresse email professionnelle du nouveau mandataire.")
DETAILS_MISSING = shown("Indiquez les nouveaux signataires du compte.")
DETAILS_TOO_LONG = shown("Texte trop long (2000 caractères au plus).")
NO_CLASS = shown("Ajoutez au moins une classe avant d'envoyer l'adhésion.")
#: The world's AD has no price list for the year.
PRICES_MISSING = (
    "Les tarifs de votre AD pour l'année 2026-2027 ne sont pas encore publiés : vous "
    "pourrez envoyer l'adhésion dès qu'ils le seront."
)

PAGE = "/mon-espace/adhesion"
SEND = "/mon-espace/adhesion/envoyer"
ROWS = (
    ("CE1", "Mme Detruc - Mlle Machin", "2", "23"),
    ("CE2", "M. Chose", "1", "22"),
    ("CP", "M. Aymard", "1", "18"),
)


def _rows(rows: Any, start: int = 0) -> Values:
    values: Values = {}
    for i, (name, teachers, teacher_count, pupil_count) in enumerate(rows, start):
        values[f"classes-{i}-name"] = name
        values[f"classes-{i}-teachers"] = teachers
        values[f"classes-{i}-teacher_count"] = teacher_count
        values[f"classes-{i}-pupil_count"] = pupil_count
    return values


#: Seed 004's classes, no option (the world's AD offers none), nothing voluntary.
VALID: dict[str, Any] = {**_rows(ROWS), "voluntary": "", "action": "calculer"}


def _in_a_row(field: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[Values]:
    """``values`` in ``field`` of one of the three classes."""
    return st.tuples(st.integers(0, 2), values).map(lambda t: {f"classes-{t[0]}-{field}": t[1]})


def _refused(*messages: str) -> Any:
    return says(ONE_FIELD, *messages)


def _not_a_count(text: str) -> bool:
    typed = text.strip()
    return bool(typed) and not (typed.isascii() and typed.isdecimal())


NOT_A_COUNT = st.one_of(
    st.text(ANY_CHAR, min_size=1, max_size=12),
    st.from_regex(r"-[0-9]{1,3}|[0-9]{1,2}[,.][0-9]|[0-9]+ élèves|\+[0-9]", fullmatch=True),
    st.builds(in_digits, st.sampled_from(["23", "2", "18"]), FOREIGN_DIGITS),
).filter(_not_a_count)
#: Past the maximum, up to numbers Python itself refuses to read from text (4,300 digits).
OVER = st.one_of(
    st.integers(61, 10**12).map(str),
    st.integers(13, 5000).map(lambda n: "9" * n),
)


def _not_euros(text: str) -> bool:
    typed = re.sub(r"[\s\u00a0\u202f€]", "", text)
    return bool(typed) and re.fullmatch(r"[0-9]{1,7}([,.][0-9]{1,2})?", typed) is None


NOT_EUROS_TYPED = st.one_of(
    st.text(ANY_CHAR, min_size=1, max_size=12),
    st.from_regex(
        r"[0-9]{1,4},[0-9]{3,5}|-[0-9]{1,4}|[0-9]{1,3}€[0-9]{2}|[0-9]{8,12}", fullmatch=True
    ),
    st.builds(in_digits, st.sampled_from(["12,50", "10", "5.5"]), FOREIGN_DIGITS),
).filter(_not_euros)


def _euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


CLASS_DEFECTS = (
    Defect("nom de classe vide", _in_a_row("name", BLANK), _refused(NAME_MISSING)),
    Defect("nom de classe trop long", _in_a_row("name", too_long(60)), _refused(NAME_TOO_LONG)),
    Defect(
        "enseignants trop longs", _in_a_row("teachers", too_long(200)), _refused(TEACHERS_TOO_LONG)
    ),
    Defect("nombre d'élèves vide", _in_a_row("pupil_count", BLANK), _refused(PUPILS_MISSING)),
    Defect(
        "nombre d'enseignants vide",
        _in_a_row("teacher_count", BLANK),
        _refused(TEACHERS_MISSING),
    ),
    Defect(
        "nombre d'élèves qui n'est pas un entier",
        _in_a_row("pupil_count", NOT_A_COUNT),
        _refused(PUPILS_NOT_A_NUMBER),
    ),
    Defect(
        "nombre d'enseignants qui n'est pas un entier",
        _in_a_row("teacher_count", NOT_A_COUNT),
        _refused(TEACHERS_NOT_A_NUMBER),
    ),
    Defect("plus de 60 élèves", _in_a_row("pupil_count", OVER), _refused(TOO_MANY_PUPILS)),
    Defect(
        "plus de 10 enseignants",
        _in_a_row("teacher_count", st.integers(11, 10**6).map(str)),
        _refused(TOO_MANY_TEACHERS),
    ),
    Defect(
        "plus de 40 classes",
        st.integers(41, 60).map(lambda n: _rows([("CM2", "", "1", "20")] * (n - 3), start=3)),
        _refused(TOO_MANY_CLASSES),
    ),
)
OTHER_DEFECTS = (
    Defect(
        "option que l'AD ne propose pas",
        st.lists(st.one_of(ODD_WORD, st.just("abonnement_toto")), min_size=1, max_size=3).map(
            lambda codes: {"options": codes}
        ),
        _refused(UNKNOWN_OPTION),
    ),
    Defect("participation mal écrite", one("voluntary", NOT_EUROS_TYPED), _refused(NOT_EUROS)),
    Defect(
        "participation de plus de 10 000 €",
        one("voluntary", st.integers(1_000_001, 999_999_999).map(_euros)),
        _refused(TOO_MUCH),
    ),
    Defect(
        "nouveau mandataire sans nom",
        st.tuples(BLANK, BLANK).map(
            lambda t: {
                "change-mandataire": "on",
                "change-first_name": t[0],
                "change-last_name": t[1],
                "change-email": "lea.fontaine@ac-nice.fr",
            }
        ),
        says(FIELDS, FIRST_NAME_MISSING, LAST_NAME_MISSING),
    ),
    Defect(
        "prénom du nouveau mandataire trop long",
        too_long(100).map(
            lambda name: {
                "change-mandataire": "on",
                "change-first_name": name,
                "change-last_name": "Fontaine",
                "change-email": "lea.fontaine@ac-nice.fr",
            }
        ),
        _refused(FIRST_NAME_TOO_LONG),
    ),
    Defect(
        "email du nouveau mandataire mal formé",
        MALFORMED_EMAILS.map(
            lambda email: {
                "change-mandataire": "on",
                "change-first_name": "Léa",
                "change-last_name": "Fontaine",
                "change-email": email,
            }
        ),
        _refused(EMAIL_BAD),
    ),
    Defect(
        "nouveaux signataires non dits",
        BLANK.map(lambda blank: {"change-signatories": "on", "change-details": blank}),
        _refused(DETAILS_MISSING),
    ),
    Defect(
        "nouveaux signataires trop longs",
        too_long(2000).map(lambda text: {"change-signatories": "on", "change-details": text}),
        _refused(DETAILS_TOO_LONG),
    ),
    FOREIGN_TOKEN,
)
NEW_ROW_EMPTY = Defect(
    "« Ajouter la classe » sans rien saisir",
    st.just({"action": "ajouter", "new_row": "3", **_rows([("", "", "", "")], start=3)}),
    says(FIELDS, NAME_MISSING, TEACHERS_MISSING, PUPILS_MISSING),
)
SUBMIT_DEFECTS = (
    Defect(
        "aucune classe",
        st.just(_rows([("", "", "", "")] * 3)),
        says(ONE_FIELD, NO_CLASS),
    ),
    Defect("tarifs de l'AD non publiés", st.just({}), says(PRICES_MISSING)),
)


def _nul_in(*fields: str) -> Defect:
    """A NUL character in one of ``fields``: refused before any view (web/guards.py)."""
    return Defect(
        "caractère nul",
        st.tuples(st.sampled_from(fields), ODD_WORD, ODD_WORD).map(
            lambda t: {t[0]: f"{t[1]}\x00{t[2]}"}
        ),
        says(),
    )


NUL = _nul_in("classes-0-name", "classes-1-pupil_count", "voluntary", "options", "submission")

AFFILIATION_FORMS: dict[str, tuple[Form, ...]] = {
    "portal.affiliation.save": (
        Form("mandataire", PAGE, VALID, (*CLASS_DEFECTS, *OTHER_DEFECTS, NEW_ROW_EMPTY, NUL)),
    ),
    "portal.affiliation.submit": (
        Form(
            "mandataire",
            SEND,
            {**VALID, "action": "envoyer"},
            (*CLASS_DEFECTS, *OTHER_DEFECTS, *SUBMIT_DEFECTS, NUL),
        ),
    ),
}

KNOWN_MESSAGES.extend(
    re.compile(pattern, re.S)
    for pattern in (
        *_SHOWN,
        r"Les tarifs de votre AD pour l'année \d{4}-\d{4} ne sont pas encore publiés : vous "
        r"pourrez envoyer l'adhésion dès qu'ils le seront\.",
    )
)
