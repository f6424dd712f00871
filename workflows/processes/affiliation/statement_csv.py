"""A bank statement as French banks export it in CSV, read into its lines.

What is accepted (README « Relevé bancaire »): « ; » between columns (a tabulation
too); UTF-8 (with or without BOM) or Windows-1252/Latin-1; any lines before the header
(account number, period: banks write them) skipped; a header naming a date column
(« Date », « Date opération », « Date de valeur »…), one or more label columns
(« Libellé », « Libellé opération », « Informations complémentaires », « Référence »…)
and either « Crédit » (with « Débit ») or a signed « Montant »; amounts with a decimal
comma and spaces, non-breaking spaces or dots between thousands (« 1 234,56 »,
« 1.234,56 », « 136,99 € »); dates ``dd/mm/yyyy`` (``dd/mm/yy``, ``dd-mm-yyyy``,
``dd.mm.yyyy`` and ISO too). Debit lines are counted and ignored; a line whose date or
amount cannot be read is reported by its line number, the others are still read.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

#: The largest credit read (a typing error in a hand-edited file beyond).
MAX_CENTS = 100_000_000
#: How many lines before the header may be skipped (banks write a few).
MAX_PREAMBLE = 30
#: A line under the table that is no operation (« Solde au 15/09/2026 », « Total »).
SUMMARY_NAMES = ("solde", "total", "soustotal", "nouveausolde", "anciensolde")
#: Columns by what their normalised header starts with.
DATE_NAMES = ("dateoperation", "datedoperation", "datecomptable", "datedecomptabilisation", "date")
VALUE_DATE_NAMES = ("datevaleur", "datedevaleur")
LABEL_NAMES = (
    "libelle",
    "intitule",
    "description",
    "designation",
    "detail",
    "motif",
    "reference",
    "informationscomplementaires",
    "complement",
    "nature",
    "operation",
)
CREDIT_NAMES = ("credit",)
DEBIT_NAMES = ("debit",)
AMOUNT_NAMES = ("montant", "somme")
NO_HEADER = (
    "Ligne d'en-tête introuvable : le relevé doit avoir une ligne nommant ses colonnes, "
    "séparées par « ; », dont « Date », « Libellé » et « Crédit » (ou « Montant »)."
)
EMPTY = "Le fichier est vide."

_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})$", re.ASCII)
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_COMMA = re.compile(r"^(\d{1,3}(?:[.\s]\d{3})+|\d+),(\d{1,2})$", re.ASCII)
_DOT_DECIMAL = re.compile(r"^(\d+)\.(\d{1,2})$", re.ASCII)
_THOUSANDS = re.compile(r"^\d{1,3}(?:[.\s]\d{3})+$", re.ASCII)


@dataclass(frozen=True)
class Row:
    """A credit line of the statement, as read."""

    number: int
    booked_on: date
    amount_cents: int
    label: str


@dataclass
class Parsed:
    """The statement's credit lines, the lines refused (number, French message), the
    debit lines ignored, and what stops the whole file from being read."""

    rows: list[Row] = field(default_factory=list)
    invalid: list[tuple[int, str, str]] = field(default_factory=list)
    debits: int = 0
    file_error: str | None = None


def decode(content: bytes) -> str:
    """UTF-8 (a BOM dropped), else Windows-1252, else Latin-1 (never fails)."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="replace")
    for encoding in ("utf-8", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


def normalise_header(text: str) -> str:
    """« Libellé opération » → ``libelleoperation``: no accent, case, space or sign."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def parse_date(text: str) -> date:
    """A day from ``dd/mm/yyyy`` (or ``dd/mm/yy``, ``-``, ``.``, ISO); ValueError."""
    text = text.strip()
    iso = _ISO.match(text)
    if iso:
        return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    match = _DATE.match(text)
    if match is None:
        raise ValueError(text)
    day, month, year = (int(g) for g in match.groups())
    if len(match.group(3)) == 2:
        year += 2000
    return date(year, month, day)


def parse_amount(text: str) -> int:
    """Signed cents from « 1 234,56 », « 1.234,56 », « -12,5 », « 136,99 € », « 1234.56 »,
    « 1 234 », never through a float; ValueError otherwise."""
    raw = text.strip().replace("€", "").replace("EUR", "").replace("eur", "")
    raw = re.sub(r"[\u00a0\u202f\u2009]", " ", raw).strip()
    sign = 1
    if raw.startswith(("-", "+")):
        sign = -1 if raw[0] == "-" else 1
        raw = raw[1:].strip()
    elif raw.endswith("-"):
        sign, raw = -1, raw[:-1].strip()
    comma = _COMMA.match(raw)
    if comma:
        units, decimals = re.sub(r"[.\s]", "", comma.group(1)), comma.group(2)
    elif _DOT_DECIMAL.match(raw):
        units, decimals = raw.split(".")
    elif _THOUSANDS.match(raw) or (raw.isascii() and raw.isdigit()):
        units, decimals = re.sub(r"[.\s]", "", raw), "0"
    else:
        raise ValueError(text)
    cents = int(units) * 100 + int(decimals.ljust(2, "0"))
    if cents > MAX_CENTS:
        raise ValueError(text)
    return sign * cents


@dataclass(frozen=True)
class Columns:
    """Where each value is in a row (indexes of the header)."""

    date: int
    labels: tuple[int, ...]
    credit: int | None
    debit: int | None
    amount: int | None


def find_columns(header: list[str]) -> Columns | None:
    """The columns of a header row, or ``None`` when it is not one."""
    names = [normalise_header(h) for h in header]

    def first(prefixes: tuple[str, ...], skip: tuple[str, ...] = ()) -> int | None:
        for prefix in prefixes:
            for i, name in enumerate(names):
                if name.startswith(prefix) and not name.startswith(skip):
                    return i
        return None

    when = first(DATE_NAMES, VALUE_DATE_NAMES)
    if when is None:
        when = first(VALUE_DATE_NAMES)
    labels = tuple(
        i
        for i, name in enumerate(names)
        if name.startswith(LABEL_NAMES) and not name.startswith(("date", "montant"))
    )
    credit, debit, amount = first(CREDIT_NAMES), first(DEBIT_NAMES), first(AMOUNT_NAMES)
    if when is None or not labels or (credit is None and amount is None):
        return None
    return Columns(when, labels, credit, debit, amount if credit is None else None)


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def _delimiter(text: str) -> str:
    head = text[:4096]
    return "\t" if head.count("\t") > head.count(";") else ";"


def parse_statement(content: bytes) -> Parsed:
    """The credit lines of a statement file; see the module's docstring."""
    parsed = Parsed()
    text = decode(content)
    if not text.strip():
        parsed.file_error = EMPTY
        return parsed
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    columns: Columns | None = None
    last_line = 0
    for row in reader:
        number, last_line = last_line + 1, reader.line_num
        if columns is None:
            columns = find_columns(row)
            if columns is None and number >= MAX_PREAMBLE:
                break
            continue
        if not any(cell.strip() for cell in row):
            continue
        _read_row(parsed, columns, row, number)
    if columns is None:
        parsed.file_error = NO_HEADER
    return parsed


def _read_row(parsed: Parsed, columns: Columns, row: list[str], number: int) -> None:
    """One line under the header: a credit kept, a debit counted, or refused."""
    raw_date = _cell(row, columns.date)
    label = " ".join(" ".join(_cell(row, i) for i in columns.labels).split())
    credit_text = _cell(row, columns.credit if columns.credit is not None else columns.amount)
    debit_text = _cell(row, columns.debit) if columns.credit is not None else ""
    if not raw_date and not credit_text and not debit_text:
        return  # a line of text under the table
    if normalise_header(raw_date).startswith(SUMMARY_NAMES):
        return  # the balance or the total under the table: no operation
    try:
        booked_on = parse_date(raw_date)
    except ValueError:
        parsed.invalid.append(
            (number, label, f"Ligne {number} : date illisible « {raw_date} » (jj/mm/aaaa).")
        )
        return
    if not credit_text:
        if debit_text:
            parsed.debits += 1
            return
        parsed.invalid.append((number, label, f"Ligne {number} : ni crédit ni débit."))
        return
    try:
        cents = parse_amount(credit_text)
    except ValueError:
        parsed.invalid.append(
            (
                number,
                label,
                f"Ligne {number} : montant illisible « {credit_text} » (par exemple 136,99).",
            )
        )
        return
    if columns.credit is not None:
        cents = abs(cents)  # some banks sign the credit column
    if cents <= 0:
        parsed.debits += 1
        return
    parsed.rows.append(Row(number, booked_on, cents, label))
