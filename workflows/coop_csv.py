"""Reading an AD's cooperatives from a spreadsheet's CSV export, without the database.

``parse_coops`` is the preview: valid rows, and each bad line with its number and the
reason in French. ``coop_import.import_coops`` writes what it returns.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email

from workflows.models import AD

#: ASCII digits only: ``\d`` also takes « ０６０００ » or « ٠٦٠٠٠ », which no letter reaches.
AFFILIATION = re.compile(r"(?=.{3,10}$)[0-9]+[A-Z]?")
POSTAL_CODE = re.compile(r"[0-9]{5}")


@dataclass(frozen=True)
class Column:
    """A column of the file: its header, the ``CoopRow`` field it fills, its French label."""

    header: str
    field: str
    label: str
    required: bool
    max_length: int
    #: The label is feminine (« adresse », « commune »): « trop longue ».
    feminine: bool = False

    def missing(self) -> str:
        return f"{self.label} {'manquante' if self.feminine else 'manquant'}"

    def too_long(self) -> str:
        return (
            f"{self.label} {'trop longue' if self.feminine else 'trop long'} "
            f"({self.max_length} caractères au plus)"
        )


COLUMNS = (
    Column("numero_affiliation", "affiliation_number", "numéro d'affiliation", True, 10),
    Column("nom_cooperative", "name", "nom de la coopérative", True, 200),
    Column("ecole", "school_name", "nom de l'école", True, 200),
    Column("adresse", "street", "adresse", False, 300, feminine=True),
    Column("code_postal", "postal_code", "code postal", False, 5),
    Column("commune", "city", "commune", False, 100, feminine=True),
    Column("email_ecole", "school_email", "email de l'école", True, 254),
    Column("prenom_mandataire", "mandataire_first_name", "prénom du mandataire", True, 100),
    Column("nom_mandataire", "mandataire_last_name", "nom du mandataire", True, 100),
    Column("email_mandataire", "mandataire_email", "email du mandataire", True, 254),
)
SHIFTED = (
    "La ligne a plus de cellules que l'en-tête : une valeur contient sans doute le "
    "séparateur (« ; » ou « , ») sans guillemets"
)
#: The ``Coop`` columns the file fills, in the order of ``COLUMNS``.
COOP_FIELDS = ("name", "school_name", "street", "postal_code", "city", "school_email")


@dataclass(frozen=True)
class CoopRow:
    """One valid line of the file, normalised."""

    line: int
    affiliation_number: str
    name: str
    school_name: str
    street: str
    postal_code: str
    city: str
    school_email: str
    mandataire_first_name: str
    mandataire_last_name: str
    mandataire_email: str

    @property
    def person(self) -> dict[str, str]:
        """The mandataire's fields, named as on ``Mandataire``."""
        return {
            "first_name": self.mandataire_first_name,
            "last_name": self.mandataire_last_name,
            "email": self.mandataire_email,
        }


@dataclass(frozen=True)
class RowError:
    """A refused line: its number as the spreadsheet shows it, and all its problems."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"Ligne {self.line} : {self.message}"


@dataclass
class ParsedFile:
    """A file read and checked; ``columns`` are the known headers it has."""

    rows: list[CoopRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    columns: frozenset[str] = frozenset()


def parse_coops(content: bytes, ad: AD) -> ParsedFile:
    """Read and check a CSV file for ``ad`` without the database: the import's preview."""
    out = ParsedFile()
    try:
        records, unreadable = _records(content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        out.file_errors.append(
            "Le fichier n'est pas encodé en UTF-8. Dans votre tableur, choisissez "
            "« Enregistrer sous », format « CSV UTF-8 », puis importez ce nouveau fichier."
        )
        return out
    if unreadable is not None:
        limit = f"{csv.field_size_limit():,}".replace(",", "\u202f")
        out.file_errors.append(
            f"Le fichier n'est pas un CSV lisible : ligne {unreadable}, une cellule dépasse "
            f"{limit} caractères (un guillemet « \" » n'est sans doute pas refermé)."
        )
        return out
    if not ad.academic_domains:
        out.file_errors.append(f"Aucun domaine académique n'est configuré pour l'{ad.code}.")
    if not records:
        out.file_errors.append("Le fichier est vide.")
        return out
    headers = [fold(h) for h in records[0][1]]
    positions = {
        c.header: headers.index(fold(c.header)) for c in COLUMNS if fold(c.header) in headers
    }
    out.columns = frozenset(positions)
    out.file_errors += [
        f"La colonne obligatoire « {c.header} » est absente du fichier."
        for c in COLUMNS
        if c.required and c.header not in positions
    ]
    if not out.file_errors and len(records) == 1:
        out.file_errors.append("Le fichier ne contient aucune ligne de coopérative.")
    if out.file_errors:
        return out
    width = len(headers)
    first_line: dict[str, int] = {}  # affiliation number -> line
    first_user: dict[str, tuple[int, str]] = {}  # mandataire email -> (line, affiliation)
    for line, cells in records[1:]:
        if any(extra.strip() for extra in cells[width:]):  # the other cells are shifted: moot
            out.errors.append(RowError(line, SHIFTED))
            continue
        values: dict[str, str] = {}
        problems: list[str] = []
        cells += [""] * (width - len(cells))
        for c in COLUMNS:
            raw = cells[positions[c.header]] if c.header in positions else ""
            values[c.field], problem = clean_cell(c, raw, ad)
            problems += [problem] if problem else []
        number, email = values["affiliation_number"], values["mandataire_email"]
        if number in first_line:
            problems.append(
                f"numéro d'affiliation {number} déjà présent ligne {first_line[number]}"
            )
        elif number:
            first_line[number] = line
        if email and first_user.setdefault(email, (line, number))[1] != number:
            problems.append(
                f"l'email du mandataire {email} est déjà utilisé ligne "
                f"{first_user[email][0]} pour une autre coopérative"
            )
        if problems:
            message = " ; ".join(problems)
            out.errors.append(RowError(line, message[0].upper() + message[1:]))
        else:
            out.rows.append(CoopRow(line=line, **values))
    return out


def _records(text: str) -> tuple[list[tuple[int, list[str]]], int | None]:
    """The non-blank records with their spreadsheet row number (a cell may hold a newline),
    and the row where the file stops being CSV, if it does: ``csv`` refuses a cell past
    its size limit, which is what an unclosed quote becomes."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "," if header.count(",") > header.count(";") else ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[tuple[int, list[str]]] = []
    n = 0
    try:
        for n, cells in enumerate(reader, start=1):
            if any(c.strip() for c in cells):
                records.append((n, [unicodedata.normalize("NFC", c) for c in cells]))
    except csv.Error:
        return records, n + 1
    return records, None


def fold(text: str) -> str:
    """Without case, accents, spaces, punctuation: ``Numéro_Affiliation``: ``numeroaffiliation``."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text).casefold() if ch.isalnum())


def clean_cell(c: Column, raw: str, ad: AD) -> tuple[str, str | None]:
    """A cell's normalised value and, if it is wrong, the French reason."""
    value = " ".join(raw.split())
    if c.header in ("numero_affiliation", "code_postal"):
        value = value.replace(" ", "")
        value = value.upper() if c.header == "numero_affiliation" else value
    elif c.header.startswith("email_"):
        value = value.lower()
    if not value:
        return value, c.missing() if c.required else None
    if c.header == "numero_affiliation" and not AFFILIATION.fullmatch(value):
        return value, (
            f"numéro d'affiliation « {value} » invalide (3 à 10 caractères : "
            "des chiffres, éventuellement suivis d'une lettre)"
        )
    if c.header == "code_postal" and not POSTAL_CODE.fullmatch(value):
        hint = " ; le tableur a-t-il supprimé le 0 initial ?" if len(value) == 4 else ""
        return value, f"code postal « {value} » invalide (5 chiffres attendus{hint})"
    if c.header.startswith("email_"):
        try:
            domain = validate_email(value, check_deliverability=False).domain
        except EmailNotValidError:
            return value, f"{c.label} « {value} » invalide"
        domains = [d.lower() for d in ad.academic_domains]
        if c.header == "email_mandataire" and domain not in domains:
            return value, (
                "l'email du mandataire doit être sur un domaine académique de "
                f"l'{ad.code} ({', '.join(domains)})"
            )
    if len(value) > c.max_length:
        return value, c.too_long()
    return value, None


# Writing ------------------------------------------------------------------------------
