"""The affiliation form of the portal as it is posted: the rows of classes, the
options ticked, the voluntary participation, the change of mandataire or signatories.

The page runs no script (the portal's CSP): every button posts the whole form, and
what was typed comes back as typed when something is refused. :func:`posted` reads the
raw values, :func:`parse` checks them with the parsers of
:mod:`workflows.processes.affiliation.form` (French messages by field, nothing stored on
a refusal), :func:`shown` turns a stored form back into the values of the fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from workflows.money import parse_euros
from workflows.processes.affiliation.form import (
    MAX_CLASSES,
    MAX_VOLUNTARY_CENTS,
    AffiliationForm,
    FormError,
    parse_change,
    parse_class,
)

#: The fields of a row of classes: ``classes-<index>-<name>``.
ROW_FIELDS = ("name", "teachers", "teacher_count", "pupil_count")
_ROW = re.compile(r"classes-(\d{1,3})-(name|teachers|teacher_count|pupil_count)")
#: The fields of the change, posted as ``change-<name>``.
CHANGE_FIELDS = ("mandataire", "signatories", "first_name", "last_name", "email", "details")

#: Longest first or last name of a new mandataire (the invitation's person).
PERSON_MAX = 100
TOO_MANY_CLASSES = f"Déclarez {MAX_CLASSES} classes au plus."
UNKNOWN_OPTION = (
    "Cette option n'est pas proposée par votre AD pour cette année : rechargez la page "
    "et cochez une option de la liste."
)


@dataclass
class Row:
    """One row of classes as its fields show it (typed text, not yet checked)."""

    index: int
    name: str = ""
    teachers: str = ""
    teacher_count: str = ""
    pupil_count: str = ""

    @property
    def blank(self) -> bool:
        return not any(str(getattr(self, f)).strip() for f in ROW_FIELDS)


@dataclass
class Posted:
    """The whole form as typed."""

    rows: list[Row] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    voluntary: str = ""
    change: dict[str, str] = field(default_factory=dict)

    @property
    def next_index(self) -> int:
        """The index of the empty row the page adds for a new class."""
        return max((r.index for r in self.rows), default=-1) + 1

    def with_empty_row(self) -> Posted:
        """The rows filled in, then one empty row to add a class."""
        rows = [r for r in self.rows if not r.blank]
        return Posted(
            [*rows, Row(max((r.index for r in rows), default=-1) + 1)],
            self.options,
            self.voluntary,
            self.change,
        )


def posted(form: MultiDict[str, str]) -> Posted:
    """The raw values of a posted form (unknown fields ignored)."""
    rows: dict[int, Row] = {}
    for key, value in form.items():
        match = _ROW.fullmatch(key)
        if match is None:
            continue
        index = int(match.group(1))
        setattr(rows.setdefault(index, Row(index)), match.group(2), value)
    change = {name: form.get(f"change-{name}", "") for name in CHANGE_FIELDS}
    return Posted(
        [rows[i] for i in sorted(rows)],
        list(dict.fromkeys(form.getlist("options"))),
        form.get("voluntary", ""),
        change,
    )


def parse(
    raw: Posted, offered: set[str], *, remove: int | None = None, add: int | None = None
) -> AffiliationForm:
    """The form ``raw`` holds, every value checked, or :class:`FormError` with the
    French message of each field refused. ``remove`` drops a row (its « Supprimer »);
    a blank row is no class, except the new row ``add`` (« Ajouter la classe »), whose
    fields are then said to be missing."""
    errors: dict[str, str] = {}
    rows = raw.rows
    if add is not None and all(r.index != add for r in rows):
        rows = [*rows, Row(add)]  # its fields not even posted
    kept = [r for r in rows if r.index != remove and (not r.blank or r.index == add)]
    if len(kept) > MAX_CLASSES:
        errors["classes"] = TOO_MANY_CLASSES
    classes = []
    for row in kept[: MAX_CLASSES + 1]:
        values = {f: getattr(row, f) for f in ROW_FIELDS}
        for count in ("teacher_count", "pupil_count"):
            values[count] = _count_typed(values[count])
        try:
            classes.append(parse_class(values, row.index))
        except FormError as exc:
            errors.update(exc.errors)
    if any(code not in offered for code in raw.options):
        errors["options"] = UNKNOWN_OPTION
    try:
        voluntary = parse_euros(_euros_typed(raw.voluntary), maximum_cents=MAX_VOLUNTARY_CENTS)
    except ValueError as exc:
        errors["voluntary"] = str(exc)
    try:
        change = parse_change(dict(raw.change))
    except FormError as exc:
        errors.update(exc.errors)
    for name, words in (("first_name", "Prénom"), ("last_name", "Nom")):
        if raw.change.get("mandataire") and len(raw.change.get(name, "").strip()) > PERSON_MAX:
            errors[f"change-{name}"] = f"{words} trop long ({PERSON_MAX} caractères au plus)."
    if errors:
        raise FormError(errors)
    return AffiliationForm(classes, list(raw.options), voluntary, change)


def _count_typed(raw: str) -> str:
    """A count as ``parse_count`` reads it. Past 12 figures (leading zeros aside) it is
    over every maximum: it is read as such, since Python refuses to read an integer of
    more than 4,300 digits (a ``ValueError`` in English)."""
    text = raw.strip()
    if text.isascii() and text.isdecimal() and len(text.lstrip("0")) > 12:
        return "9" * 13
    return raw


def _euros_typed(raw: str) -> str:
    """A sum as ``parse_euros`` reads it: its pattern's ``\\d`` takes any script's
    digits (« ١٢ »), a sum of money here is written with 0-9 only."""
    if any(c.isdecimal() and not c.isascii() for c in raw):
        return "?"  # refused by the parser, with its own message
    return raw


def shown(form: AffiliationForm) -> Posted:
    """The fields' values of a stored form."""
    rows = [
        Row(i, c.name, c.teachers, str(c.teacher_count), str(c.pupil_count))
        for i, c in enumerate(form.classes)
    ]
    change: dict[str, str] = dict.fromkeys(CHANGE_FIELDS, "")
    if form.change is not None:
        values: dict[str, Any] = vars(form.change)
        change = {
            name: ("on" if values[name] else "") if isinstance(values[name], bool) else values[name]
            for name in CHANGE_FIELDS
        }
    return Posted(rows, list(form.options), euros_typed(form.voluntary_cents), change)


def euros_typed(cents: int) -> str:
    """Cents as one types them in the field: ``12,50`` (empty for none)."""
    return f"{cents // 100},{cents % 100:02d}" if cents else ""


def summary(form: AffiliationForm, total_cents: int | None) -> dict[str, Any]:
    """What the case's history keeps of a save or a submission."""
    return {
        "classes": len(form.classes),
        "pupils": form.pupils,
        "teachers": form.teachers,
        "options": list(form.options),
        "voluntary_cents": form.voluntary_cents,
        "change": form.change is not None,
        "total_cents": total_cents,
    }


def index_of(raw: str | None) -> int | None:
    """A row's index from a button's value, or ``None``."""
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdecimal() and len(text) <= 3 else None
