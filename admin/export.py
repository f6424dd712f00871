"""Any back-office list as a file: CSV for every spreadsheet, XLSX for Excel.

An export selects exactly what its list shows (same filters, same search, same scope:
an AD's staff only ever get their AD's rows) and never holds the whole list in memory:
rows are read from the database in chunks, the CSV is streamed, the XLSX is written
row by row into a temporary file. A cell can never run as a formula in the
spreadsheet that opens the file.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any

import xlsxwriter
from babel.numbers import format_decimal
from flask import Response, abort, flash, redirect, request, send_file, stream_with_context
from flask_admin import Admin, BaseView, expose
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload
from werkzeug.wrappers import Response as BaseResponse

from admin.access import StaffView, referring_page, staff
from admin.queries import CaseFilters, matching, stuck_rules
from web.runtime import runtime
from workflows.engine.definition import Definition
from workflows.formatting import paris
from workflows.models import Case

#: Past this many rows an export is refused: the filters should narrow it first.
MAX_ROWS = 200_000
#: Rows read from the database at a time.
CHUNK_ROWS = 1000
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: What a spreadsheet reads as the start of a formula (OWASP « CSV injection »).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CSV_FLUSH = 64 * 1024
_MAX_WIDTH = 60


@dataclass(frozen=True)
class Column:
    """One column of an export: its French heading and how a row gives its value.

    The value may be ``None``, text, a number, a boolean or a date: each writer
    renders it its own way (an aware datetime becomes Paris time).
    """

    label: str
    getter: Callable[[Any], Any]


# Cells --------------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """Text a spreadsheet shows as typed: a leading quote defuses a would-be formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _paris_naive(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return paris(aware).replace(tzinfo=None)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime):
        # No « à »: French spreadsheets read ``07/09/2026 09:30`` as a date.
        return _paris_naive(value).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return str(value).replace(".", ",")
    return neutralise(str(value))


def _limit_message(max_rows: int) -> str:
    return f"Export interrompu : il est limité à {format_decimal(max_rows, locale='fr_FR')} lignes."


# Writers ------------------------------------------------------------------------------


def csv_chunks(columns: Sequence[Column], rows: Iterable[Any], max_rows: int) -> Iterator[bytes]:
    """The file in pieces: UTF-8 with a BOM, ``;`` between cells, CRLF between rows,
    which French Excel and LibreOffice open without an import dialog."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([c.label for c in columns])
    try:
        for count, row in enumerate(rows):
            if count == max_rows:  # more rows than counted before: the list grew meanwhile
                writer.writerow([_limit_message(max_rows)])
                break
            writer.writerow([_csv_cell(c.getter(row)) for c in columns])
            if buffer.tell() >= _CSV_FLUSH:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")
    finally:
        _close(rows)


def _close(rows: Iterable[Any]) -> None:
    """Ends the reading of ``rows`` now (its session, its cursor), not when collected."""
    close = getattr(rows, "close", None)
    if close is not None:
        close()


def read_apart(
    sessions: Callable[[], Session], read: Callable[[Session], Iterable[Any]]
) -> Iterator[Any]:
    """The rows ``read`` gives in a session of its own, open while the file is written.

    The request's scoped session is removed as soon as the view returns, before a
    streamed CSV is written: reading through it would find it closed.
    """
    with sessions() as session:
        yield from read(session)


def xlsx_file(columns: Sequence[Column], rows: Iterable[Any], max_rows: int) -> IO[bytes]:
    """The workbook in a temporary file, rewound: written row by row (constant memory),
    header bold and frozen, dates as Excel dates in Paris time, text never a formula."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115  (closed by the response that sends it)
    workbook = xlsxwriter.Workbook(
        handle,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = workbook.add_worksheet("Export")
    bold = workbook.add_format({"bold": True})
    formats: dict[type, Any] = {
        datetime: workbook.add_format({"num_format": "dd/mm/yyyy hh:mm"}),
        date: workbook.add_format({"num_format": "dd/mm/yyyy"}),
    }
    widths = [len(c.label) for c in columns]
    for col, column in enumerate(columns):
        sheet.write_string(0, col, column.label, bold)
    last = 0
    try:
        for last, row in enumerate(rows, start=1):
            if last > max_rows:
                sheet.write_string(last, 0, _limit_message(max_rows), bold)
                break
            for col, column in enumerate(columns):
                width = _write_xlsx_cell(sheet, last, col, column.getter(row), formats)
                widths[col] = max(widths[col], width)
    finally:
        _close(rows)
    sheet.freeze_panes(1, 0)
    if columns:
        sheet.autofilter(0, 0, max(last, 1), len(columns) - 1)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(width + 3, _MAX_WIDTH))
    workbook.close()
    handle.seek(0)
    return handle


def _write_xlsx_cell(
    sheet: Any, row: int, col: int, value: Any, formats: Mapping[type, Any]
) -> int:
    """Writes one cell; returns how many characters wide it reads."""
    if value is None:
        return 0
    if isinstance(value, bool):
        sheet.write_string(row, col, "oui" if value else "non")
        return 3
    if isinstance(value, datetime):
        sheet.write_datetime(row, col, _paris_naive(value), formats[datetime])
        return 16
    if isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), formats[date])
        return 10
    if isinstance(value, int | float | Decimal):
        sheet.write_number(row, col, value)
        return len(str(value))
    text = str(value)
    sheet.write_string(row, col, text)
    return max((len(line) for line in text.splitlines()), default=0)


# Responses ----------------------------------------------------------------------------


def slug(text: str, limit: int = 80) -> str:
    """``dossiers bloqués, AD06`` → ``dossiers-bloques-ad06``: safe in any file name."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(words) > limit:
        words = words[:limit].rsplit("-", 1)[0]
    return words or "export"


def export_filename(basename: str, fmt: str, now: datetime | None = None) -> str:
    """``coopflow-<basename>-<YYYYMMDD-HHMM, Paris time>.<fmt>``"""
    stamp = _paris_naive(now or datetime.now(UTC)).strftime("%Y%m%d-%H%M")
    return f"coopflow-{slug(basename)}-{stamp}.{fmt}"


def export_response(
    fmt: str,
    basename: str,
    columns: Sequence[Column],
    rows: Iterable[Any],
    *,
    now: datetime | None = None,
    max_rows: int | None = None,
) -> Response:
    """The download of ``rows`` as ``fmt`` (``csv`` or ``xlsx``; anything else: 404).

    ``rows`` is read once, lazily: pass a result read in chunks (``yield_per``). A
    CSV streams while it is read; an XLSX is complete before it is sent.
    """
    if fmt not in MIMETYPES:
        abort(404)
    limit = MAX_ROWS if max_rows is None else max_rows
    filename = export_filename(basename, fmt, now)
    response: Response
    if fmt == "csv":
        response = Response(
            stream_with_context(csv_chunks(columns, rows, limit)), content_type=MIMETYPES[fmt]
        )
    else:
        response = send_file(
            xlsx_file(columns, rows, limit),
            mimetype=MIMETYPES[fmt],
            as_attachment=True,
            download_name=filename,
            conditional=False,
            etag=False,
        )
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers["Cache-Control"] = "no-store"  # personal data: never in a shared cache
    return response


def too_many(count: int | None, back: str) -> BaseResponse | None:
    """A redirect to ``back`` with a French explanation when ``count`` passes the cap."""
    if count is None or count <= MAX_ROWS:
        return None
    flash(
        f"Cette liste compte {format_decimal(count, locale='fr_FR')} lignes : l'export est "
        f"limité à {format_decimal(MAX_ROWS, locale='fr_FR')}. Affinez les filtres.",
        "error",
    )
    return redirect(back)


# Flask-Admin model lists --------------------------------------------------------------


class ModelExport:
    """Mixed into a Flask-Admin ``ModelView`` before it: its « Export » menu writes the
    filtered, searched and sorted list (its scoped ``get_query``) through this module.

    Replaces Flask-Admin's own ``export``, which loads the whole list in memory and needs
    tablib for XLSX.
    """

    can_export = True
    export_types = ["csv", "xlsx"]
    #: The middle of the file name (the search, if any, is added to it).
    export_basename = "export"

    @expose("/export/<export_type>/")
    def export(self, export_type: str) -> Any:
        view: Any = self  # the ModelView this is mixed into
        if not view.can_export or export_type not in view.export_types:
            abort(404)
        args = view._get_list_extra_args()
        sort = view._get_column_by_idx(args.sort)
        count, query = view.get_list(
            None,
            sort[0] if sort else None,
            args.sort_desc,
            args.search,
            args.filters,
            execute=False,
            page_size=0,
        )
        if count is None:  # the list's simple pager skips the count: an export needs it
            count = query.order_by(None).count()
        refused = too_many(count, view.get_url(".index_view", **request.args))
        if refused is not None:
            return refused
        columns = [Column(label, _export_value(view, name)) for name, label in view._export_columns]
        rows = read_apart(
            view.session.session_factory,
            lambda session: query.with_session(session).yield_per(CHUNK_ROWS),
        )
        basename = self.export_basename + (f" recherche {args.search}" if args.search else "")
        now = runtime().engine.clock.now()
        return export_response(export_type, basename, columns, rows, now=now)


def _export_value(view: Any, name: str) -> Callable[[Any], Any]:
    """Flask-Admin's export value of column ``name`` (its export formatters applied)."""
    return lambda model: view.get_export_value(model, name)


# Cases --------------------------------------------------------------------------------


def case_columns(definitions: Mapping[str, Definition]) -> list[Column]:
    """The columns of a case export, in the words of the case lists."""
    rules = stuck_rules(definitions)

    def process(case: Case) -> str:
        definition = definitions.get(case.process)
        return definition.title if definition else case.process

    def state(case: Case) -> str:
        definition = definitions.get(case.process)
        found = definition.state_by_name.get(case.state) if definition else None
        return found.label if found else case.state

    def stuck(case: Case) -> str:
        if not case.stuck_reason:
            return ""
        rule = rules.get(case.stuck_reason)
        return (rule.title or rule.reason) if rule else case.stuck_reason

    return [
        Column("N°", lambda c: c.id),
        Column("Processus", process),
        Column("État", state),
        Column("Coopérative", lambda c: c.coop.name),
        Column("N° d'affiliation", lambda c: c.coop.affiliation_number),
        Column("AD", lambda c: c.ad.code),
        Column("Bloqué", stuck),
        Column("Message de blocage", lambda c: c.stuck_message),
        Column("Bloqué depuis", lambda c: c.stuck_since),
        Column("Assigné à", lambda c: c.assignee.full_name if c.assignee else None),
        Column("Mis à jour", lambda c: c.updated_at),
    ]


class CaseExportView(StaffView, BaseView):
    """``/admin/dossiers-export/<csv|xlsx>?<filters>``: the cases a case list selects
    with the same query string (:class:`admin.queries.CaseFilters`), in its order."""

    def __init__(self, session: Any, **kwargs: Any) -> None:
        self.session = session
        super().__init__(**kwargs)

    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self) -> Any:
        abort(404)

    @expose("/<fmt>")
    def export(self, fmt: str) -> Any:
        if fmt not in MIMETYPES:
            abort(404)
        engine = runtime().engine
        now = engine.clock.now()
        filters = CaseFilters.from_args(request.args)
        selected = matching(staff(), filters, now)
        count = self.session.scalar(
            select(func.count()).select_from(selected.order_by(None).subquery())
        )
        refused = too_many(count, referring_page())
        if refused is not None:
            return refused
        # Many-to-one only: joined in the same chunked query, no query per row.
        selected = selected.options(
            joinedload(Case.coop), joinedload(Case.ad), joinedload(Case.assignee)
        )
        rows = read_apart(
            self.session.session_factory,
            lambda session: session.execute(
                selected.execution_options(yield_per=CHUNK_ROWS)
            ).scalars(),
        )
        return export_response(
            fmt,
            filters.describe(engine.definitions),
            case_columns(engine.definitions),
            rows,
            now=now,
        )


def register(admin: Admin, session: Any) -> None:
    """Adds the case export (hidden from the menu) to the back-office."""
    admin.add_view(
        CaseExportView(
            session, name="Export des dossiers", endpoint="case_export", url="dossiers-export"
        )
    )
