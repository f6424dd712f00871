"""The ADs' price lists (affiliation fee, PROCESSES.md §7): read from a CSV file, checked
line by line in French, and written as :class:`~workflows.models.PriceItem` rows.

One line per AD, school year and item: ``ad;annee;code;type;libelle;prix;
part_federation;ordre`` (README « Tarifs d'adhésion (CSV) »). The file is read like the
coops' import (:mod:`workflows.coop_csv`: UTF-8 with or without a BOM, « ; » or « , »,
headers matched without case nor accents) and behaves like it: a file-level problem
(encoding, missing column, nothing to read) writes nothing; otherwise each bad line is
reported with its number and the good ones are written, in the caller's one transaction.
Items are upserted on (AD, year, code); an item the file does not mention is left alone.

Prices are integer cents parsed from text (« 1,73 » → 173), never through a float. The
back-office's form (:mod:`admin.processes.affiliation_prices`) checks an item with the
same rules (:func:`check_item`, :func:`list_conflict`). A changed price never alters an
affiliation already submitted: its fee is frozen in the case (``Fee.to_data``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.coop_csv import SHIFTED, RowError, _records, fold
from workflows.engine.cross_process import school_year_label
from workflows.formatting import euros
from workflows.models import AD, PriceItem, PriceKind
from workflows.money import parse_euros

#: The file's columns, in the order of the README's table.
COLUMNS = ("ad", "annee", "code", "type", "libelle", "prix", "part_federation", "ordre")
REQUIRED = ("ad", "annee", "code", "type", "libelle", "prix")
CODE = re.compile(r"[a-z0-9_]{1,40}")
LABEL_MAX = 200
#: 10 000,00 € for one item: more is a typing error.
MAX_PRICE_CENTS = 1_000_000
MAX_POSITION = 9999
FIRST_YEAR, LAST_YEAR = 2000, 2099
_YEAR = re.compile(r"([0-9]{4})(?:\s*[-/]\s*([0-9]{4}))?")
_POSITION = re.compile(r"[0-9]{1,4}")
#: The kinds a year's list holds at most once, and how a sentence names them.
SINGLE_KINDS = {
    PriceKind.FLAT.value: "un forfait",
    PriceKind.PER_PUPIL.value: "un prix par élève",
    PriceKind.PER_TEACHER.value: "un prix par enseignant",
}
KIND_LABELS = {
    PriceKind.FLAT.value: "Forfait par coopérative",
    PriceKind.PER_PUPIL.value: "Prix par élève",
    PriceKind.PER_TEACHER.value: "Prix par enseignant",
    PriceKind.INSURANCE.value: "Assurance (option)",
    PriceKind.SUBSCRIPTION.value: "Abonnement (option)",
}


@dataclass(frozen=True)
class ItemValues:
    """An item's checked values; ``position`` is ``None`` when not given."""

    code: str
    kind: str
    label: str
    price_cents: int
    federation_share_cents: int | None
    position: int | None


@dataclass(frozen=True)
class PriceRow:
    """A good line of the file: its AD and year, and the item."""

    line: int
    ad_id: int
    ad_code: str
    school_year: int
    item: ItemValues

    @property
    def key(self) -> tuple[int, int]:
        return self.ad_id, self.school_year


@dataclass
class PriceImportReport:
    """What an import did (or would have done, if ``file_errors`` refused the file)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """« 6 tarifs créés, 1 mis à jour, 0 inchangé, 1 ligne en erreur »."""
        if self.file_errors:
            return "Fichier refusé, rien n'a été importé : " + " ".join(self.file_errors)
        return ", ".join(
            [
                _plural(self.created, "tarif créé", "tarifs créés"),
                _plural(self.updated, "mis à jour", "mis à jour"),
                _plural(self.unchanged, "inchangé", "inchangés"),
                _plural(len(self.errors), "ligne en erreur", "lignes en erreur"),
            ]
        )


def _plural(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n <= 1 else plural}"


# One item's values (the file's cells or the back-office form's fields) -----------------


def parse_year(raw: str) -> int:
    """2026 from « 2026-2027 », « 2026/2027 » or « 2026 »; ValueError in French."""
    text = raw.strip()
    match = _YEAR.fullmatch(text)
    if match is None or (match[2] and int(match[2]) != int(match[1]) + 1):
        raise ValueError(f"année scolaire « {text} » invalide (par exemple 2026-2027 ou 2026)")
    year = int(match[1])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"année scolaire « {text} » hors des années {FIRST_YEAR} à {LAST_YEAR}")
    return year


def _amount(raw: str, name: str, *, required: bool) -> int | None:
    text = " ".join(raw.split())
    if not text.replace("€", "").strip():  # « € » alone is no price
        if required:
            raise ValueError(f"{name} manquant")
        return None
    try:
        if any(ch.isdigit() and not ch.isascii() for ch in text):  # « ١,٧٣ »
            raise ValueError(text)
        cents = parse_euros(text, maximum_cents=10**12)
    except ValueError:
        raise ValueError(
            f"{name} « {text} » invalide (un montant en euros, par exemple 1,73)"
        ) from None
    if cents > MAX_PRICE_CENTS:
        raise ValueError(f"{name} : {euros(MAX_PRICE_CENTS)} au plus")
    return cents


def check_item(raw: Mapping[str, str]) -> tuple[ItemValues | None, dict[str, str]]:
    """The item in ``raw`` (keys: the file's column names, ``code`` to ``ordre``), or its
    problems by column, in French starting lower case (a line joins them with « ; »)."""
    problems: dict[str, str] = {}
    code = "".join(raw.get("code", "").split()).lower()
    if not code:
        problems["code"] = "code manquant"
    elif not CODE.fullmatch(code):
        problems["code"] = (
            f"code « {code} » invalide (lettres minuscules sans accent, chiffres et « _ », "
            "40 caractères au plus)"
        )
    kind_text = " ".join(raw.get("type", "").split())
    kind = fold(kind_text)
    if not kind_text:
        problems["type"] = "type manquant"
    elif kind not in KIND_LABELS:
        problems["type"] = (
            f"type « {kind_text} » invalide (forfait, eleve, enseignant, assurance ou abonnement)"
        )
    label = " ".join(raw.get("libelle", "").split())
    if not label:
        problems["libelle"] = "libellé manquant"
    elif len(label) > LABEL_MAX:
        problems["libelle"] = f"libellé trop long ({LABEL_MAX} caractères au plus)"
    price = share = None
    try:
        price = _amount(raw.get("prix", ""), "prix", required=True)
    except ValueError as exc:
        problems["prix"] = str(exc)
    try:
        share = _amount(raw.get("part_federation", ""), "part de la fédération", required=False)
    except ValueError as exc:
        problems["part_federation"] = str(exc)
    if price is not None and share is not None and share > price:
        problems["part_federation"] = (
            f"part de la fédération ({euros(share)}) supérieure au prix ({euros(price)})"
        )
    position_text = "".join(raw.get("ordre", "").split())
    if position_text and not _POSITION.fullmatch(position_text):
        problems["ordre"] = f"ordre « {position_text} » invalide (un nombre entier de 0 à 9999)"
    if problems or price is None:
        return None, problems
    position = int(position_text) if position_text else None
    return ItemValues(code, kind, label, price, share, position), {}


def list_conflict(
    items: Iterable[PriceItem],
    kind: str,
    code: str,
    year: int,
    ad_code: str,
    lines: Mapping[str, int] | None = None,
) -> str | None:
    """Why an item ``code`` of ``kind`` cannot join a year's list holding ``items``: a
    list has one flat fee, one price per pupil and one per teacher. ``lines`` gives the
    file's line of the items an import just wrote (the others were stored before)."""
    if kind not in SINGLE_KINDS:
        return None
    for other in items:
        if other.kind == kind and other.code != code:
            line = (lines or {}).get(other.code)
            where = "déjà enregistré" if line is None else f"ligne {line}"
            return (
                f"la liste de l'{ad_code} pour {school_year_label(year)} a déjà "
                f"{SINGLE_KINDS[kind]} (« {other.code} », {where})"
            )
    return None


# Reading a file ------------------------------------------------------------------------


@dataclass
class ParsedPrices:
    rows: list[PriceRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)


def parse_price_lists(
    content: bytes, ads: Mapping[str, int], allowed: frozenset[int] | None = None
) -> ParsedPrices:
    """Read and check a file without the stored items: ``ads`` maps every AD's code to
    its id, ``allowed`` the AD ids the person importing may change (``None``: all)."""
    out = ParsedPrices()
    try:
        records, unreadable = _records(content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        out.file_errors.append(
            "Le fichier n'est pas encodé en UTF-8. Dans votre tableur, choisissez "
            "« Enregistrer sous », format « CSV UTF-8 », puis importez ce nouveau fichier."
        )
        return out
    if unreadable is not None:
        out.file_errors.append(
            f"Le fichier n'est pas un CSV lisible à partir de la ligne {unreadable} "
            "(un guillemet « \" » n'est sans doute pas refermé)."
        )
        return out
    if not records:
        out.file_errors.append("Le fichier est vide.")
        return out
    headers = [fold(h) for h in records[0][1]]
    positions = {c: headers.index(fold(c)) for c in COLUMNS if fold(c) in headers}
    out.file_errors += [
        f"La colonne obligatoire « {c} » est absente du fichier."
        for c in REQUIRED
        if c not in positions
    ]
    if not out.file_errors and len(records) == 1:
        out.file_errors.append("Le fichier ne contient aucune ligne de tarif.")
    if out.file_errors:
        return out
    width = len(headers)
    by_code = {code.upper(): ad_id for code, ad_id in ads.items()}
    seen: dict[tuple[int, int, str], int] = {}  # (AD, year, code) -> line
    for line, cells in records[1:]:
        if any(extra.strip() for extra in cells[width:]):
            out.errors.append(RowError(line, SHIFTED))
            continue
        cells += [""] * (width - len(cells))
        raw = {c: cells[positions[c]] if c in positions else "" for c in COLUMNS}
        problems: list[str] = []
        ad_code = "".join(raw["ad"].split()).upper()
        ad_id = by_code.get(ad_code)
        if not ad_code:
            problems.append("AD manquante")
        elif ad_id is None:
            problems.append(f"AD inconnue : « {ad_code} »")
        elif allowed is not None and ad_id not in allowed:
            problems.append(f"l'{ad_code} n'est pas dans votre périmètre")
        year = None
        if not raw["annee"].strip():
            problems.append("année scolaire manquante")
        else:
            try:
                year = parse_year(raw["annee"])
            except ValueError as exc:
                problems.append(str(exc))
        item, item_problems = check_item(raw)
        problems += item_problems.values()
        if item is not None and ad_id is not None and year is not None:
            key = (ad_id, year, item.code)
            if key in seen:
                problems.append(
                    f"code « {item.code} » déjà présent ligne {seen[key]} pour l'{ad_code} "
                    f"{school_year_label(year)}"
                )
            else:
                seen[key] = line
        if problems:
            message = " ; ".join(problems)
            out.errors.append(RowError(line, message[0].upper() + message[1:]))
        elif item is not None and ad_id is not None and year is not None:
            out.rows.append(PriceRow(line, ad_id, ad_code, year, item))
    return out


# Writing -------------------------------------------------------------------------------


def import_price_lists(
    session: Session,
    content: bytes,
    *,
    by: str,
    now: datetime,
    allowed: frozenset[int] | None = None,
) -> PriceImportReport:
    """Check ``content`` and write its good lines in ``session`` (the caller commits);
    ``by`` is recorded on each item written (``import tarifs.csv``, a staff email)."""
    ads = {code: ad_id for code, ad_id in session.execute(select(AD.code, AD.id))}
    parsed = parse_price_lists(content, ads, allowed)
    report = PriceImportReport(errors=list(parsed.errors), file_errors=list(parsed.file_errors))
    if not parsed.file_errors:
        write_rows(session, parsed.rows, report, by=by, now=now)
    report.errors.sort(key=lambda e: e.line)
    return report


def lock_ads(session: Session, ad_ids: Iterable[int]) -> None:
    """Take the ADs' rows for update (PostgreSQL; SQLite's write sessions are serial):
    two changes of one AD's list never check its single items against a stale list."""
    ids = sorted(set(ad_ids))
    if ids:
        session.execute(select(AD.id).where(AD.id.in_(ids)).order_by(AD.id).with_for_update())


def write_rows(
    session: Session, rows: list[PriceRow], report: PriceImportReport, *, by: str, now: datetime
) -> None:
    """Upsert ``rows`` on (AD, year, code), counting into ``report``; a row whose single
    kind (flat fee, per pupil, per teacher) the list already has under another code is
    reported, not written. Rows that free a kind (options) are applied first."""
    lock_ads(session, (r.ad_id for r in rows))
    lists: dict[tuple[int, int], dict[str, PriceItem]] = {}
    for ad_id, year in {r.key for r in rows}:
        stored = session.scalars(
            select(PriceItem).where(PriceItem.ad_id == ad_id, PriceItem.school_year == year)
        )
        lists[(ad_id, year)] = {p.code: p for p in stored}
    written: dict[tuple[int, int], dict[str, int]] = {key: {} for key in lists}
    for row in sorted(rows, key=lambda r: (r.item.kind in SINGLE_KINDS, r.line)):
        items, lines = lists[row.key], written[row.key]
        conflict = list_conflict(
            items.values(), row.item.kind, row.item.code, row.school_year, row.ad_code, lines
        )
        if conflict:
            report.errors.append(RowError(row.line, conflict[0].upper() + conflict[1:]))
            continue
        lines[row.item.code] = row.line
        existing = items.get(row.item.code)
        if existing is None:
            items[row.item.code] = create_item(session, row, items.values(), by=by, now=now)
            report.created += 1
        elif update_item(existing, row.item, by=by, now=now):
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()


def create_item(
    session: Session, row: PriceRow, siblings: Iterable[PriceItem], *, by: str, now: datetime
) -> PriceItem:
    """A new item; without an ``ordre`` it goes after its list's last one."""
    item = row.item
    position = item.position
    if position is None:
        position = max((p.position for p in siblings), default=0) + 1
    created = PriceItem(
        ad_id=row.ad_id,
        school_year=row.school_year,
        code=item.code,
        kind=item.kind,
        label=item.label,
        price_cents=item.price_cents,
        federation_share_cents=item.federation_share_cents,
        position=position,
        updated_at=now,
        updated_by=by[:200],
    )
    session.add(created)
    return created


def update_item(stored: PriceItem, item: ItemValues, *, by: str, now: datetime) -> bool:
    """Bring ``stored`` in line with ``item``, writing only what differs (a position not
    given keeps its own); whether anything changed."""
    wanted = {
        "kind": item.kind,
        "label": item.label,
        "price_cents": item.price_cents,
        "federation_share_cents": item.federation_share_cents,
    }
    if item.position is not None:
        wanted["position"] = item.position
    changes = {k: v for k, v in wanted.items() if getattr(stored, k) != v}
    for name, value in changes.items():
        setattr(stored, name, value)
    if changes:
        stored.updated_at, stored.updated_by = now, by[:200]
    return bool(changes)
