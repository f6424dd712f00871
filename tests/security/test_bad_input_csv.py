"""Bad input in the CSV import of cooperatives, as property tests (hypothesis).

Files are generated the way spreadsheets write them (« ; » or « , », BOM or not, CRLF or
LF, quotes always or when needed, headers in any case and order, optional columns left
out, blank lines, cells holding the separator, quotes, newlines, HTML, any script), with
each line valid or wrong in one known way. The parser (fast, many examples) must keep
every valid line as it was typed, give every wrong one a French message naming its line
number, and never raise; on arbitrary bytes, only French. Through « Importer des
coopératives » (fewer examples): the preview writes nothing and lists the same lines;
the confirmation writes the valid lines and nothing of the wrong ones (as README says:
« Each bad line is reported with its number [...]; good lines are imported »).
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st
from sqlalchemy import select

from tests.security.bad_input import (
    ANY_CHAR,
    BLANK,
    FOREIGN_DIGITS,
    KNOWN_MESSAGES,
    assert_french,
    bad_input,
    check_nothing_written,
    errors_shown,
    in_digits,
)
from tests.security.conftest import database_rows, token_of
from tests.web.conftest import text
from workflows.coop_csv import COLUMNS, RowError, parse_coops
from workflows.models import AD, Coop

AD06 = AD(code="AD06", name="OCCE 06", email="ad06@occe.coop", academic_domains=["ac-nice.fr"])
HEADERS = [c.header for c in COLUMNS]
OPTIONAL = [c.header for c in COLUMNS if not c.required]
LABELS = {c.header: c.label for c in COLUMNS}
LIMITS = {c.header: c.max_length for c in COLUMNS}
COLUMN = {c.header: c for c in COLUMNS}
SHIFTED = "La ligne a plus de cellules que l'en-tête"

#: What the parser may say, in French (a row's message starts with a capital).
CSV_MESSAGES = [
    re.compile(p, re.S | re.I)
    for p in [
        r"Le fichier n'est pas encodé en UTF-8\. Dans votre tableur, choisissez « Enregistrer "
        r"sous », format « CSV UTF-8 », puis importez ce nouveau fichier\.",
        r"Le fichier n'est pas un CSV lisible : ligne \d+, une cellule dépasse [\d\s]+ "
        r"caractères \(un guillemet « \" » n'est sans doute pas refermé\)\.",
        r"Le fichier est vide\.",
        r"La colonne obligatoire « [a-z_]+ » est absente du fichier\.",
        r"Le fichier ne contient aucune ligne de coopérative\.",
        r"Ligne \d+ : ",
        r"(numéro d'affiliation|nom de la coopérative|nom de l'école|email de l'école|"
        r"prénom du mandataire|nom du mandataire|email du mandataire) manquant",
        r"numéro d'affiliation «.*?» invalide \(3 à 10 caractères : des chiffres, "
        r"éventuellement suivis d'une lettre\)",
        r"code postal «.*?» invalide \(5 chiffres attendus( ; le tableur a-t-il supprimé le "
        r"0 initial \?)?\)",
        r"(email de l'école|email du mandataire) «.*?» invalide",
        r"l'email du mandataire doit être sur un domaine académique de l'AD06 \(ac-nice\.fr\)",
        r"(numéro d'affiliation|nom de la coopérative|nom de l'école|"
        r"email de l'école|prénom du mandataire|nom du mandataire|email du mandataire) trop "
        r"long \(\d+ caractères au plus\)",
        r"(adresse|commune) trop longue \(\d+ caractères au plus\)",
        r"numéro d'affiliation \S+ déjà présent ligne \d+",
        r"l'email du mandataire \S+ est déjà utilisé ligne \d+ pour une autre coopérative",
        re.escape(SHIFTED) + r" : une valeur contient sans doute le séparateur \(« ; » ou "
        r"« , »\) sans guillemets",
    ]
]

#: A blank cell. Not a lone CR: Python 3.11's writer leaves it unquoted under an LF line
#: end (a spreadsheet quotes it), and every reader, ours too, takes it for a line break.
BLANK_CELL = BLANK.map(lambda blank: blank.replace("\r", " "))


def assert_csv_french(message: str) -> None:
    assert_french(message, CSV_MESSAGES)


def as_read(raw: str) -> str:
    """A cell as the parser keeps it: NFC, runs of whitespace as one space."""
    return " ".join(unicodedata.normalize("NFC", raw).split())


# --- files as spreadsheets write them ---------------------------------------------------

#: Names as people type them: accents, quotes, separators, HTML, formulas, other scripts.
NAME = st.text(
    st.characters(
        categories=("L", "M", "N", "P", "S", "Zs"),
        include_characters="\n;,\"'<>&=",
        exclude_characters="\x00",
    ),
    min_size=1,
    max_size=40,
).filter(lambda s: bool(as_read(s)))


@dataclass
class Line:
    """A line of the file: its cells by header, and, when it is wrong, the French words
    its error must hold."""

    cells: dict[str, str]
    problem: str | None = None
    extra: list[str] = field(default_factory=list)
    line: int = 0


@dataclass
class CsvFile:
    content: bytes
    columns: list[str]
    lines: list[Line]

    @property
    def valid(self) -> list[Line]:
        return [line for line in self.lines if line.problem is None]

    @property
    def wrong(self) -> list[Line]:
        return [line for line in self.lines if line.problem is not None]


@st.composite
def valid_cells(draw: st.DrawFn, serial: int, index: int) -> dict[str, str]:
    number = f"{serial % 10_000:04d}{index:03d}{draw(st.sampled_from(['', 'A', 'F', 'z']))}"
    spaced = draw(st.booleans())
    return {
        "numero_affiliation": f" {number[:4]} {number[4:]} " if spaced else number,
        "nom_cooperative": draw(NAME),
        "ecole": draw(NAME),
        "adresse": draw(st.one_of(st.just(""), NAME)),
        "code_postal": draw(st.one_of(st.just(""), st.integers(0, 99_999).map("{:05d}".format))),
        "commune": draw(st.one_of(st.just(""), NAME)),
        "email_ecole": f"ce.{number.lower()}@ac-nice.fr",
        "prenom_mandataire": draw(NAME),
        "nom_mandataire": draw(NAME),
        "email_mandataire": draw(
            st.sampled_from([f"m.{serial}.{index}@ac-nice.fr", f"M.{serial}.{index}@AC-NICE.FR"])
        ),
    }


def _affiliation_as_read(raw: str) -> str:
    return as_read(raw).replace(" ", "").upper()


WRONG_KINDS = [
    "missing",
    "affiliation",
    "postal_code",
    "school_email",
    "mandataire_email",
    "domain",
    "too_long",
    "same_number",
    "same_mandataire",
    "shifted",
]


@st.composite
def wrong_line(
    draw: st.DrawFn, cells: dict[str, str], earlier: list[Line], columns: list[str]
) -> Line:
    """``cells`` made wrong in one way, and the words its error must hold."""
    kind = draw(st.sampled_from(WRONG_KINDS))
    valid_before = [line for line in earlier if line.problem is None]
    if (kind in ("same_number", "same_mandataire") and not valid_before) or (
        kind == "postal_code" and "code_postal" not in columns
    ):
        kind = "missing"
    if kind == "missing":
        header = draw(st.sampled_from([c.header for c in COLUMNS if c.required]))
        cells[header] = draw(BLANK_CELL)
        return Line(cells, f"{LABELS[header]} manquant")
    if kind == "affiliation":
        raw = draw(
            st.one_of(
                st.sampled_from(["12", "12345678901", "123AB", "A123", "12-34", "0060 104 DD"]),
                FOREIGN_DIGITS.map(lambda d: in_digits("0060104", d)),
                st.text(st.characters(categories=("L", "P", "S")), min_size=1, max_size=8),
            ).filter(
                lambda s: not re.fullmatch(r"(?=.{3,10}$)[0-9]+[A-Z]?", _affiliation_as_read(s))
            )
        )
        assume(_affiliation_as_read(raw))
        cells["numero_affiliation"] = raw
        return Line(cells, f"numéro d'affiliation « {_affiliation_as_read(raw)} » invalide")
    if kind == "postal_code":
        raw = draw(
            st.one_of(
                st.from_regex(r"[0-9]{1,4}|[0-9]{6,8}", fullmatch=True),
                FOREIGN_DIGITS.map(lambda d: in_digits("06000", d)),
                st.text(st.characters(categories=("L", "P")), min_size=1, max_size=6),
            ).filter(lambda s: as_read(s).replace(" ", ""))
        )
        cells["code_postal"] = raw
        return Line(cells, f"code postal « {as_read(raw).replace(' ', '')} » invalide")
    if kind in ("school_email", "mandataire_email"):
        header = "email_ecole" if kind == "school_email" else "email_mandataire"
        raw = draw(
            st.sampled_from(
                [
                    "pas-un-email",
                    "prenom@",
                    "@ac-nice.fr",
                    "a@@ac-nice.fr",
                    "prénom nom@ac-nice.fr",
                    "a..b@ac-nice.fr",
                ]
            )
        )
        cells[header] = raw
        return Line(cells, f"{LABELS[header]} « {as_read(raw).lower()} » invalide")
    if kind == "domain":
        cells["email_mandataire"] = (
            cells["email_mandataire"]
            .lower()
            .replace(
                "@ac-nice.fr",
                draw(st.sampled_from(["@gmail.com", "@ac-caen.fr", "@ac-nice.fr.evil.com"])),
            )
        )
        return Line(cells, "l'email du mandataire doit être sur un domaine académique de l'AD06")
    if kind == "too_long":
        header = draw(
            st.sampled_from(
                [
                    h
                    for h in (
                        "nom_cooperative",
                        "ecole",
                        "adresse",
                        "commune",
                        "prenom_mandataire",
                        "nom_mandataire",
                    )
                    if h in columns
                ]
            )
        )
        cells[header] = "x" * LIMITS[header] + draw(NAME)
        return Line(cells, COLUMN[header].too_long())
    if kind == "same_number":
        first = draw(st.sampled_from(valid_before))
        number = _affiliation_as_read(first.cells["numero_affiliation"])
        cells["numero_affiliation"] = number
        return Line(cells, f"numéro d'affiliation {number} déjà présent ligne {first.line}")
    if kind == "same_mandataire":
        first = draw(st.sampled_from(valid_before))
        email = first.cells["email_mandataire"].lower()
        cells["email_mandataire"] = email
        return Line(cells, f"l'email du mandataire {email} est déjà utilisé ligne {first.line}")
    extra = draw(st.lists(NAME, min_size=1, max_size=2))
    return Line(cells, SHIFTED, extra=extra)


def _header_as_typed(draw: st.DrawFn, header: str) -> str:
    """``numero_affiliation`` as « Numéro Affiliation », « NUMERO-AFFILIATION »…"""
    accents = {"numero": "numéro", "ecole": "école", "prenom": "prénom"}
    words = [accents.get(w, w) if draw(st.booleans()) else w for w in header.split("_")]
    joined = draw(st.sampled_from(["_", " ", "-", ""])).join(words)
    return draw(st.sampled_from([str.lower, str.upper, str.title]))(joined)


@st.composite
def csv_files(draw: st.DrawFn, serial: int, max_lines: int = 8) -> CsvFile:
    """A file as a spreadsheet exports it, each line valid or wrong in one known way."""
    left_out = draw(st.lists(st.sampled_from(OPTIONAL), unique=True))
    columns = draw(st.permutations([h for h in HEADERS if h not in left_out]))
    notes = draw(st.booleans())  # a column the import does not know: ignored
    separator = draw(st.sampled_from([";", ","]))
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, quoting=quoting, lineterminator=newline)
    number = 0

    def blank_lines() -> None:
        nonlocal number
        for blank in draw(st.lists(st.sampled_from(["", "cells"]), max_size=2)):
            number += 1
            if blank:
                writer.writerow([""] * len(columns))
            else:
                buffer.write(newline)

    blank_lines()
    header = [_header_as_typed(draw, h) for h in columns] + (["Notes"] if notes else [])
    writer.writerow(header)
    number += 1
    lines: list[Line] = []
    for index in range(draw(st.integers(1, max_lines))):
        blank_lines()
        cells = draw(valid_cells(serial, index))
        for missing in left_out:
            cells[missing] = ""
        line = draw(wrong_line(cells, lines, columns)) if draw(st.booleans()) else Line(cells)
        number += 1
        line.line = number
        note_cell = [draw(st.one_of(st.just(""), NAME))] if notes else []
        writer.writerow([line.cells[h] for h in columns] + note_cell + line.extra)
        lines.append(line)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig"]))
    return CsvFile(buffer.getvalue().encode(encoding), columns, lines)


def check_parsed(file: CsvFile, parsed: Any) -> None:
    """Every valid line kept as typed; every wrong one refused in French, by its number."""
    assert parsed.file_errors == []
    kept = {row.line: row for row in parsed.rows}
    refused = {error.line: error for error in parsed.errors}
    assert set(kept) == {line.line for line in file.valid}, [str(e) for e in parsed.errors]
    assert set(refused) == {line.line for line in file.wrong}
    for line in file.valid:
        row = kept[line.line]
        for column in COLUMNS:
            wanted = as_read(line.cells[column.header])
            if column.header == "numero_affiliation":
                wanted = wanted.replace(" ", "").upper()
            elif column.header.startswith("email_"):
                wanted = wanted.lower()
            assert getattr(row, column.field) == wanted, column.header
    for line in file.wrong:
        error: RowError = refused[line.line]
        assert str(error).startswith(f"Ligne {line.line} : "), str(error)
        assert line.problem is not None and line.problem.lower() in error.message.lower(), (
            line.problem,
            error.message,
        )
        assert_csv_french(str(error))


# --- the parser -------------------------------------------------------------------------


@bad_input(max_examples=500)
@given(file=csv_files(serial=1))
def test_each_line_is_kept_as_typed_or_refused_in_french_with_its_number(file):
    note(file.content.decode("utf-8-sig"))
    check_parsed(file, parse_coops(file.content, AD06))


@bad_input(max_examples=100)
@given(
    file=csv_files(serial=1, max_lines=3),
    encoding=st.sampled_from(["cp1252", "latin-1", "utf-16", "mac-roman"]),
)
def test_a_file_in_another_encoding_is_refused_whole_or_read_the_same(file, encoding):
    typed = file.content.decode("utf-8-sig")
    try:
        content = typed.encode(encoding)
    except UnicodeEncodeError:
        assume(False)
    parsed = parse_coops(content, AD06)
    try:
        read = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        assert parsed.file_errors == [
            "Le fichier n'est pas encodé en UTF-8. Dans votre tableur, choisissez « Enregistrer "
            "sous », format « CSV UTF-8 », puis importez ce nouveau fichier."
        ]
        assert parsed.rows == [] and parsed.errors == []
        return
    if read == typed:  # ASCII only: the same file
        check_parsed(file, parsed)
    for message in [*parsed.file_errors, *map(str, parsed.errors)]:
        assert_csv_french(message)  # bytes that happen to be UTF-8: read as such


ARBITRARY = st.one_of(
    st.binary(max_size=600),
    st.text(ANY_CHAR, max_size=300).map(str.encode),
    st.lists(st.lists(st.text(ANY_CHAR, max_size=12), max_size=12), max_size=6).map(
        lambda rows: "\n".join(";".join(r) for r in [HEADERS, *rows]).encode()
    ),
    st.integers(0, 3).map(
        lambda n: (";".join(HEADERS) + "\n" + "1234;" * n + '"' + "x" * 140_000 + "\n").encode()
    ),
)


@bad_input(max_examples=500)
@given(content=ARBITRARY)
def test_any_bytes_get_french_messages_naming_real_lines(content):
    parsed = parse_coops(content, AD06)
    for message in parsed.file_errors:
        assert_csv_french(message)
    if parsed.file_errors:
        assert parsed.rows == [] and parsed.errors == []
        return
    lines = content.decode("utf-8-sig").count("\n") + content.count(b"\r") + 1
    numbers = [row.line for row in parsed.rows] + [error.line for error in parsed.errors]
    assert len(numbers) == len(set(numbers)), "a line both kept and refused, or twice"
    assert all(2 <= n <= lines for n in numbers), numbers
    for error in parsed.errors:
        assert str(error).startswith(f"Ligne {error.line} : ")
        assert_csv_french(str(error))


# --- « Importer des coopératives » --------------------------------------------------------

#: Affiliation numbers and emails of each example's file: new ones every time.
_SERIALS = itertools.count(1000)


def _upload(client: Any, ad_id: int, content: bytes) -> Any:
    return client.post(
        "/admin/importer/",
        data={
            "csrf_token": token_of(client, "/admin/importer/"),
            "ad_id": str(ad_id),
            "file": (io.BytesIO(content), "coops.csv", "text/csv"),
        },
        content_type="multipart/form-data",
    )


def _listed(page: str, css_class: str) -> list[str]:
    block = re.search(rf'<ul class="[^"]*{css_class}[^"]*">(.*?)</ul>', page, re.S)
    items = re.findall(r"<li>(.*?)</li>", block[1], re.S) if block else []
    return [" ".join(text_of(item).split()) for item in items]


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _coops(runtime: Any) -> dict[str, str]:
    with runtime.db.read() as session:
        return dict(session.execute(select(Coop.affiliation_number, Coop.name)).all())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@bad_input(max_examples=40)
@given(data=st.data())
def test_the_import_page_previews_then_imports_the_valid_lines_only(app, runtime, world, ad, data):
    client = world.clients["staff"]
    file = data.draw(csv_files(serial=next(_SERIALS), max_lines=5), label="file")
    note(file.content.decode("utf-8-sig"))
    before = database_rows(runtime)
    preview = _upload(client, ad.id, file.content)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    valid, wrong = len(file.valid), len(file.wrong)
    plural = {n: "s" * (n > 1) for n in (valid, wrong)}
    counts = f"{valid} ligne{plural[valid]} valide{plural[valid]}, {wrong} ligne{plural[wrong]}"
    assert f"{counts} en erreur" in text(preview)
    listed = _listed(page, "import-errors")
    assert [int(re.match(r"Ligne (\d+) : ", item)[1]) for item in listed] == [
        line.line for line in file.wrong
    ]
    for item in listed:
        assert_csv_french(item)
    check_nothing_written(runtime, before)  # a preview writes nothing
    if not valid:
        assert "Aucune ligne valide : corrigez le fichier puis recommencez." in text(preview)
        assert 'name="payload"' not in page
        return
    payload = re.search(r'name="payload" type="hidden" value="([^"]+)"', page)
    assert payload, "no « Confirmer l'import »"
    existing = _coops(runtime)
    done = client.post(
        "/admin/importer/confirmer",
        data={"csrf_token": token_of(client, "/admin/importer/"), "payload": payload[1]},
    )
    assert done.status_code == 200
    assert f"{valid} coopérative{'s' * (valid > 1)} créée{'s' * (valid > 1)}" in text(done)
    created = {k: v for k, v in _coops(runtime).items() if k not in existing}
    assert created == {
        _affiliation_as_read(line.cells["numero_affiliation"]): as_read(
            line.cells["nom_cooperative"]
        )
        for line in file.valid
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@bad_input(max_examples=40)
@given(content=ARBITRARY)
def test_the_import_page_answers_any_bytes_in_french_and_writes_nothing(
    app, runtime, world, ad, content
):
    client = world.clients["staff"]
    before = database_rows(runtime)
    response = _upload(client, ad.id, content)
    assert response.status_code in (200, 422)
    page = response.get_data(as_text=True)
    for item in _listed(page, "import-errors"):
        assert_csv_french(item)
    for error in errors_shown(response):  # refused upload, file refused whole
        assert_french(error, [*KNOWN_MESSAGES, *CSV_MESSAGES])
    check_nothing_written(runtime, before)
