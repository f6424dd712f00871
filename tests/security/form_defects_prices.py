"""« Tarifs d'adhésion » in the table of ``test_bad_input_forms`` (``PRICE_FORMS``, merged
into ``FORMS``): « Ajouter un tarif », « Modifier le tarif », « Supprimer ce tarif » and
the CSV file of price lists, with the French messages they show, for the error reader.

Posted by an AD's staff member (``PRICES_STAFF``) on the lists :func:`prices_context`
stores: their AD's 2026-2027 list (a flat fee, a price per pupil, an insurance) and
another AD's item. A form is checked like a line of the file
(``workflows/processes/affiliation/price_import.py``), each message on its field; a
file refused as a whole says why in red, a file whose every line is refused lists them
(« Lignes non importées ») and writes nothing."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from io import BytesIO
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import select

from admin.imports import CSV_TYPES
from tests import factories
from tests.security.bad_input import (
    ANY_CHAR,
    BLANK,
    FOREIGN_DIGITS,
    HUGE_NUMBER,
    KNOWN_MESSAGES,
    NO_SUCH_ID,
    ODD_WORD,
    in_digits,
    too_long,
)
from tests.security.form_defects import NOT_FOUND, Context, Defect, Form, Values, one, says
from workflows.coop_csv import SHIFTED, fold
from workflows.formatting import euros
from workflows.models import AD, PriceItem

#: Who posts them: the AD's staff, in a property of its own (the lists they act on).
PRICES_STAFF = "staff_prices"

_SHOWN: list[str] = []


def shown(message: str) -> str:
    """``message``, which a page of these forms shows as an error."""
    _SHOWN.append(re.escape(message))
    return message


PAGE_NOT_FOUND = "Cette page n'existe pas."
CODE_MISSING = shown("Code manquant.")
KIND_MISSING = shown("Type manquant.")
LABEL_MISSING = shown("Libellé manquant.")
LABEL_TOO_LONG = shown("Libellé trop long (200 caractères au plus).")
PRICE_MISSING = shown("Prix manquant.")
PRICE_TOO_HIGH = shown("Prix : 10 000,00 € au plus.")
#: (sic: « élevé » for « la part »; the page's words.)
SHARE_TOO_HIGH = shown("Part de la fédération : 10 000,00 € au plus.")
FILE_MISSING = shown("Choisissez le fichier CSV à importer.")
NOT_NAMED_CSV = shown(
    "Le fichier doit être au format CSV (.csv) : dans votre tableur, choisissez "
    "« Enregistrer sous » puis le format « CSV UTF-8 »."
)
SPREADSHEET = shown(
    "Ce fichier est un classeur de tableur renommé, pas un CSV : dans votre tableur, "
    "choisissez « Enregistrer sous » puis le format « CSV UTF-8 »."
)
TOO_BIG = shown("Le fichier dépasse 5 Mo : découpez-le en plusieurs fichiers.")
FILE_REFUSED = shown("Fichier refusé, rien n'a été importé :")
EMPTY = shown("Le fichier est vide.")
NO_LINE = shown("Le fichier ne contient aucune ligne de tarif.")
NOT_UTF8 = shown(
    "Le fichier n'est pas encodé en UTF-8. Dans votre tableur, choisissez « Enregistrer "
    "sous », format « CSV UTF-8 », puis importez ce nouveau fichier."
)
AMOUNT_HINT = "invalide (un montant en euros, par exemple 1,73)."
KINDS = ("forfait", "eleve", "enseignant", "assurance", "abonnement")
#: The list of 2026-2027 :func:`prices_context` stores: (code, kind, label, cents).
STORED = (
    ("forfait", "forfait", "de la coopérative (forfait)", 800),
    ("eleve", "eleve", "des élèves", 173),
    ("assurance", "assurance", "Assurance MAE", 250),
)
#: What a single kind already in the list is called, and its code there.
HELD = {"forfait": ("un forfait", "forfait"), "eleve": ("un prix par élève", "eleve")}
MAX_CENTS = 1_000_000


def _spaceless(typed: str) -> str:
    return "".join(typed.split())


def _spaced(typed: str) -> str:
    return " ".join(typed.split())


def _reads_as_euros(typed: str) -> bool:
    """What the page takes for an amount: « 8 », « 8,5 », « 1 234,56 € », ASCII digits,
    seven before the comma at most (« € » alone is read as nothing: 0)."""
    text = re.sub(r"\s", "", typed.replace("€", ""))
    return not text or re.fullmatch(r"[0-9]{1,7}([,.][0-9]{1,2})?", text) is not None


def _typed(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


#: What no amount is: words, signs, three decimals, a thousands separator, other digits.
NOT_AN_AMOUNT = st.one_of(
    st.text(ANY_CHAR, min_size=1, max_size=20),
    st.sampled_from(["abc", "-8,00", "-1", "1,234", "1.234,56", "12,5,0", "8,00 EUR", "1e3"]),
    st.integers(10**7, 10**12).map(str),
    FOREIGN_DIGITS.map(lambda d: in_digits("8,00", d)),
).filter(lambda s: bool(s.split()) and not _reads_as_euros(s))
#: Read, but more than 10 000,00 € for one item.
TOO_HIGH = st.integers(MAX_CENTS + 1, 10**9 - 1).map(_typed)


def _amount_defects(field: str, name: str, too_high: str) -> tuple[Defect, ...]:
    return (
        Defect(
            f"{name} illisible",
            one(field, NOT_AN_AMOUNT),
            lambda v: [f"{name} « {_spaced(v[field])} » {AMOUNT_HINT}"],
        ),
        Defect(f"{name} démesuré", one(field, TOO_HIGH), says(too_high)),
    )


def _not_a_code(typed: str) -> bool:
    code = _spaceless(typed).lower()
    return bool(code) and re.fullmatch(r"[a-z0-9_]{1,40}", code) is None


def _code_says(values: Values) -> list[str]:
    code = _spaceless(values["code"]).lower()
    return [
        f"Code « {code} » invalide (lettres minuscules sans accent, chiffres et « _ », "
        "40 caractères au plus)."
    ]


def _variants(word: str) -> st.SearchStrategy[str]:
    """``word`` as people type it: capitals, spaces around and inside."""
    return st.sampled_from(
        [word, word.upper(), word.capitalize(), f" {word} ", f"{word[:3]} {word[3:]}"]
    )


CODE_DEFECTS = (
    Defect("code vide", one("code", BLANK), says(CODE_MISSING)),
    Defect(
        "code aux caractères interdits",
        one(
            "code",
            st.one_of(
                st.text(ANY_CHAR, min_size=1, max_size=20),
                ODD_WORD.map("abonnement_{}".format),
                st.sampled_from(["abonnement-toto", "abonnement.toto", "abonnement_totô"]),
            ).filter(_not_a_code),
        ),
        _code_says,
    ),
    Defect(
        "code trop long",
        one("code", st.from_regex(r"[a-z0-9_]{41,80}", fullmatch=True)),
        _code_says,
    ),
    Defect(
        "code déjà dans la liste",
        one("code", st.sampled_from([code for code, *_ in STORED]).flatmap(_variants)),
        lambda v: [
            f"Le code « {_spaceless(v['code']).lower()} » est déjà dans la liste de l'AD06."
        ],
    ),
)


def _held_says(values: Values) -> list[str]:
    name, code = HELD[fold(values["kind"])]
    return [f"La liste de l'AD06 pour 2026-2027 a déjà {name} (« {code} », déjà enregistré)."]


def _share_says(values: Values) -> list[str]:
    share = int(values["federation_share"].replace(",", ""))
    return [f"Part de la fédération ({euros(share)}) supérieure au prix ({euros(800)})."]


ITEM_DEFECTS = (
    Defect("type vide", st.one_of(st.just({"kind": None}), one("kind", BLANK)), says(KIND_MISSING)),
    Defect(
        "type inconnu",
        one(
            "kind",
            st.one_of(
                ODD_WORD,
                st.text(ANY_CHAR, min_size=1, max_size=20),
                st.sampled_from(["Forfait par coopérative", "élèves", "option", "assurances"]),
            ).filter(lambda s: bool(s.split()) and fold(_spaced(s)) not in KINDS),
        ),
        lambda v: [
            f"Type « {_spaced(v['kind'])} » invalide (forfait, eleve, enseignant, assurance "
            "ou abonnement)."
        ],
    ),
    Defect(
        "second forfait ou second prix par élève",
        one("kind", st.sampled_from(["forfait", "Forfait", "eleve", "Élève", "ÉLÈVE"])),
        _held_says,
    ),
    Defect("libellé vide", one("label", BLANK), says(LABEL_MISSING)),
    Defect("libellé trop long", one("label", too_long(200)), says(LABEL_TOO_LONG)),
    Defect("prix vide", one("price", BLANK), says(PRICE_MISSING)),
    *_amount_defects("price", "Prix", PRICE_TOO_HIGH),
    *_amount_defects("federation_share", "Part de la fédération", SHARE_TOO_HIGH),
    Defect(
        "part de la fédération plus grande que le prix",
        one("federation_share", st.integers(801, MAX_CENTS).map(_typed)),
        _share_says,
    ),
    Defect(
        "ordre illisible",
        one(
            "position",
            st.one_of(
                st.text(ANY_CHAR, min_size=1, max_size=8),
                st.sampled_from(["-1", "1,5", "10000", "premier"]),
                st.integers(10_000, 10**20).map(str),
                FOREIGN_DIGITS.map(lambda d: d[1:3]),
            ).filter(lambda s: bool(s.split()) and not re.fullmatch(r"[0-9]{1,4}", _spaceless(s))),
        ),
        lambda v: [
            f"Ordre « {_spaceless(v['position'])} » invalide (un nombre entier de 0 à 9999)."
        ],
    ),
)


def _from_context(key: str) -> Callable[[Context], st.SearchStrategy[Values]]:
    return lambda c: st.just({"@url": c[key]})


#: An id in the URL naming nothing the staff member may see: 404, as if it did not exist.
NO_SUCH_ITEM = (
    NOT_FOUND,
    Defect("id géant", one("@url", HUGE_NUMBER), says(PAGE_NOT_FOUND), status=404),
    Defect("tarif d'une autre AD", _from_context("other_item"), says(PAGE_NOT_FOUND), status=404),
)
#: ``?ad=`` or ``?annee=`` of « Ajouter un tarif »: none, unreadable, unknown, not theirs.
NO_SUCH_AD = (
    Defect(
        "AD illisible",
        one("@url", st.one_of(BLANK, ODD_WORD).filter(lambda s: not s.isdecimal())),
        says(PAGE_NOT_FOUND),
        status=404,
    ),
    Defect(
        "AD inconnue", one("@url", NO_SUCH_ID.map(str) | HUGE_NUMBER), says(PAGE_NOT_FOUND), 404
    ),
    Defect("AD d'un autre", _from_context("other_ad_id"), says(PAGE_NOT_FOUND), status=404),
)
NO_SUCH_YEAR = (
    Defect(
        "année scolaire inconnue",
        one(
            "@url",
            st.one_of(
                BLANK,
                ODD_WORD.filter(lambda s: not s.isdecimal()),
                st.sampled_from(["2026-2027", "2026/2027", "1999", "2100", "-2026"]),
                st.integers(0, 1999).map(str),
                st.integers(2100, 10**12).map(str),
            ),
        ),
        says(PAGE_NOT_FOUND),
        status=404,
    ),
)

# --- the CSV file ----------------------------------------------------------------------

HEADER = ("ad", "annee", "code", "type", "libelle", "prix", "part_federation", "ordre")
REQUIRED = ("ad", "annee", "code", "type", "libelle", "prix")
LINE = ("AD06", "2026-2027", "abonnement_toto", "abonnement", "Abonnement à TOTO", "4,00", "", "5")


class Kept(BytesIO):
    """A file's stream that keeps its content once the test client has sent and closed it."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self.content = content


def _upload(content: bytes, name: str = "tarifs.csv", kind: str = "text/csv") -> Values:
    return {"file": (Kept(content), name, kind)}


def _csv(*lines: tuple[str, ...]) -> bytes:
    return "".join(";".join(cells) + "\r\n" for cells in lines).encode()


def _prices_file() -> tuple[BytesIO, str, str]:
    """A fresh upload for each post (a stream is read once): a good file."""
    return BytesIO(_csv(HEADER, LINE)), "tarifs.csv", "text/csv"


#: What a cell can hold without changing the file's shape (no separator, quote, line).
CELL = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=';"\r\n\x00'),
    min_size=1,
    max_size=20,
)


def _line_with(column: str, cells: st.SearchStrategy[str]) -> st.SearchStrategy[Values]:
    at = HEADER.index(column)
    cells = cells.filter(lambda cell: not set(cell) & set(';"\r\n\x00'))
    return cells.map(lambda cell: _upload(_csv(HEADER, (*LINE[:at], cell, *LINE[at + 1 :]))))


def _bad_line(name: str, values: Any, line_says: str) -> Defect:
    """A file whose only line is refused: listed (« Ligne 2 : … »), nothing written."""
    return Defect(name, values, says(), status=200, page_says=f"Ligne 2 : {line_says}")


def _ad_code(cell: str) -> str:
    return _spaceless(unicodedata.normalize("NFC", cell)).upper()


def _reads_as_year(cell: str) -> bool:
    match = re.fullmatch(r"\s*([0-9]{4})(?:\s*[-/]\s*([0-9]{4}))?\s*", cell)
    if match is None or not 2000 <= int(match[1]) <= 2099:
        return False
    return match[2] is None or int(match[2]) == int(match[1]) + 1


def _unknown_ad(context: Context) -> st.SearchStrategy[Values]:
    codes = st.one_of(st.from_regex(r"AD[0-9]{2,3}", fullmatch=True), ODD_WORD, CELL)
    known = context["ad_codes"]
    return _line_with("ad", codes.filter(lambda s: _ad_code(s) and _ad_code(s) not in known))


LINE_DEFECTS = (
    _bad_line("ligne sans AD", _line_with("ad", BLANK), "AD manquante"),
    _bad_line("ligne d'une AD inconnue", _unknown_ad, "AD inconnue : « "),
    _bad_line(
        "ligne d'une autre AD",
        _line_with("ad", st.sampled_from(["AD13", "ad13", " AD 13 "])),
        "L'AD13 n'est pas dans votre périmètre",
    ),
    _bad_line("ligne sans année", _line_with("annee", BLANK), "Année scolaire manquante"),
    _bad_line(
        "ligne d'une année illisible",
        _line_with(
            "annee",
            st.one_of(
                CELL,
                st.sampled_from(["2026-2028", "2025/2027", "1999", "2100-2101", "26-27"]),
                FOREIGN_DIGITS.map(lambda d: in_digits("2026", d)),
            ).filter(lambda s: bool(s.strip()) and not _reads_as_year(s)),
        ),
        "Année scolaire « ",
    ),
    _bad_line("ligne au prix illisible", _line_with("prix", NOT_AN_AMOUNT), "Prix « "),
    _bad_line(
        "ligne d'un second forfait",
        st.just(_csv(HEADER, ("AD06", "2026", "forfait_bis", "forfait", "Forfait", "8,00"))).map(
            _upload
        ),
        "La liste de l'AD06 pour 2026-2027 a déjà un forfait (« forfait », déjà enregistré)",
    ),
    _bad_line(
        "ligne décalée",
        CELL.filter(str.strip).map(lambda extra: _upload(_csv(HEADER, (*LINE, extra)))),
        SHIFTED,
    ),
)


def _missing_columns(removed: frozenset[str]) -> Values:
    kept = [i for i, column in enumerate(HEADER) if column not in removed]
    return _upload(_csv(tuple(HEADER[i] for i in kept), tuple(LINE[i] for i in kept)))


def _missing_says(values: Values) -> list[str]:
    header = values["file"][0].content.decode().splitlines()[0].split(";")
    return [FILE_REFUSED] + [
        f"La colonne obligatoire « {c} » est absente du fichier."
        for c in REQUIRED
        if c not in header
    ]


def _not_named_csv(name: str) -> bool:
    return (
        not name.lower().endswith(".csv")
        and bool(_spaceless(name).strip("."))  # a blank name is no file: its own defect
        and name.isprintable()  # browsers escape CR and LF in file names, the test client not
        and not {"/", "\\"} & set(name)
    )


FILE_DEFECTS = (
    Defect(
        "sans fichier",
        st.one_of(st.just({"file": None}), st.builds(lambda: _upload(b"", "", "text/plain"))),
        says(FILE_MISSING),
        status=200,
        follow=True,
    ),
    Defect(
        "pas un .csv",
        st.text(ANY_CHAR, min_size=1, max_size=20)
        .filter(_not_named_csv)
        .map(lambda name: _upload(_csv(HEADER, LINE), name)),
        says(NOT_NAMED_CSV),
        status=200,
        follow=True,
    ),
    Defect(
        "type qui n'est pas du CSV",
        st.from_regex(r"(image|application|audio|video|text)/[a-z0-9.+-]{1,20}", fullmatch=True)
        .filter(lambda t: t not in CSV_TYPES)
        .map(lambda t: _upload(_csv(HEADER, LINE), kind=t)),
        lambda v: [f"Ce type de fichier ({v['file'][2]}) n'est pas un CSV."],
        status=200,
        follow=True,
    ),
    Defect(
        "classeur renommé .csv",
        st.tuples(
            st.sampled_from([b"PK\x03\x04", b"\xd0\xcf\x11\xe0"]), st.binary(max_size=200)
        ).map(lambda t: _upload(t[0] + t[1])),
        says(SPREADSHEET),
        status=200,
        follow=True,
    ),
    Defect(
        "fichier de plus de 5 Mo",
        st.integers(5 * 2**20 + 1, 5 * 2**20 + 2**16).map(
            lambda n: _upload(_csv(HEADER, LINE) + b" " * n)
        ),
        says(TOO_BIG),
        status=200,
        follow=True,
    ),
    Defect(
        "fichier vide",
        st.sampled_from([b"", b"\r\n", b"  \n\n", b";;;\r\n", b"\xef\xbb\xbf"]).map(_upload),
        says(FILE_REFUSED, EMPTY),
    ),
    Defect(
        "pas en UTF-8",
        st.just(_csv(HEADER, LINE).decode().encode("cp1252")).map(_upload),
        says(FILE_REFUSED, NOT_UTF8),
    ),
    Defect(
        "colonne obligatoire absente",
        st.frozensets(st.sampled_from(REQUIRED), min_size=1).map(_missing_columns),
        _missing_says,
    ),
    Defect(
        "en-tête sans ligne",
        st.sampled_from(["", "\r\n;;;;;;;\r\n", "\n\n"]).map(
            lambda rest: _upload(_csv(HEADER) + rest.encode())
        ),
        says(FILE_REFUSED, NO_LINE),
    ),
    *LINE_DEFECTS,
)

# --- the forms ---------------------------------------------------------------------------

NEW_ITEM = {
    "code": "abonnement_toto",
    "kind": "abonnement",
    "label": "Abonnement à TOTO est content",
    "price": "8,00",
    "federation_share": "1,50",
    "position": "",
}
#: The insurance as its page shows it (the code cannot change: it is read-only).
INSURANCE = {
    "code": "assurance",
    "kind": "assurance",
    "label": "Assurance MAE",
    "price": "8,00",
    "federation_share": "",
    "position": "3",
}
CREATE = "/admin/tarifs/ajouter?ad={ad_id}&annee=2026"


def _form(url: str, valid: dict[str, Any], defects: tuple[Defect, ...]) -> Form:
    return Form(PRICES_STAFF, url, valid, defects)


PRICE_FORMS: dict[str, tuple[Form, ...]] = {
    "prices.create": (
        _form(CREATE, NEW_ITEM, (*CODE_DEFECTS, *ITEM_DEFECTS)),
        _form("/admin/tarifs/ajouter?ad={value_url}&annee=2026", NEW_ITEM, NO_SUCH_AD),
        _form("/admin/tarifs/ajouter?ad={ad_id}&annee={value_url}", NEW_ITEM, NO_SUCH_YEAR),
    ),
    "prices.edit": (
        _form("/admin/tarifs/{insurance}/modifier", INSURANCE, ITEM_DEFECTS),
        _form("/admin/tarifs/{value}/modifier", INSURANCE, NO_SUCH_ITEM),
    ),
    "prices.delete": (_form("/admin/tarifs/{value}/supprimer", {}, NO_SUCH_ITEM),),
    "prices.upload": (_form("/admin/tarifs/importer", {"file": _prices_file}, FILE_DEFECTS),),
}

KNOWN_MESSAGES.extend(
    re.compile(pattern, re.S)
    for pattern in (
        *_SHOWN,
        r"Code « .*? » invalide \(lettres minuscules sans accent, chiffres et « _ », 40 "
        r"caractères au plus\)\.",
        r"Le code « .*? » est déjà dans la liste de l'AD\w+\.",
        r"Type « .*? » invalide \(forfait, eleve, enseignant, assurance ou abonnement\)\.",
        r"La liste de l'AD\w+ pour \d{4}-\d{4} a déjà (un forfait|un prix par élève|un prix "
        r"par enseignant) \(« .*? », déjà enregistré\)\.",
        r"(Prix|Part de la fédération) « .*? » invalide \(un montant en euros, par exemple "
        r"1,73\)\.",
        r"Part de la fédération \([\d\s]+,\d\d\s€\) supérieure au prix \([\d\s]+,\d\d\s€\)\.",
        r"Ordre « .*? » invalide \(un nombre entier de 0 à 9999\)\.",
        r"La colonne obligatoire « \w+ » est absente du fichier\.",
    )
)


def prices_context(runtime: Any, ad: Any, csrf: str) -> Context:
    """``ad``'s list for 2026-2027 (:data:`STORED`: the insurance ``insurance`` is the
    one corrected), another AD (AD13) and its flat fee (``other_item``), every AD's code."""
    other = factories.ADFactory(code="AD13", academic_domains=["ac-aix-marseille.fr"])
    with runtime.db.write() as session:
        items = {
            code: PriceItem(
                ad_id=ad.id,
                school_year=2026,
                code=code,
                kind=kind,
                label=label,
                price_cents=cents,
                position=position,
            )
            for position, (code, kind, label, cents) in enumerate(STORED, start=1)
        }
        theirs = PriceItem(
            ad_id=other.id,
            school_year=2026,
            code="forfait",
            kind="forfait",
            label="Forfait des Bouches-du-Rhône",
            price_cents=900,
        )
        session.add_all([*items.values(), theirs])
        session.flush()
        context = {"insurance": items["assurance"].id, "other_item": theirs.id}
    with runtime.db.read() as session:
        codes = frozenset(session.scalars(select(AD.code)))
    return {**context, "csrf": csrf, "ad_id": ad.id, "other_ad_id": other.id, "ad_codes": codes}
