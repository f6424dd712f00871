"""Exports of the back-office lists: what the list selects, in its scope, as a CSV a
French spreadsheet opens right or an XLSX workbook; never a formula, never another AD."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import openpyxl
import pytest
from sqlalchemy import event, update

from admin import export
from tests.admin.conftest import log_in, text
from workflows.formatting import paris
from workflows.models import Case, Coop, Email, EmailStatus

CASE_HEADERS = [
    "N°",
    "Processus",
    "État",
    "Coopérative",
    "N° d'affiliation",
    "AD",
    "Bloqué",
    "Message de blocage",
    "Bloqué depuis",
    "Assigné à",
    "Mis à jour",
]
FORMULA = '=HYPERLINK("http://pirate.example","Cliquez")'


def _csv(response) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), "no BOM"
    body = raw.decode("utf-8-sig")
    assert "\r\n" in body and "\n" not in body.replace("\r\n", "")
    return list(csv.reader(io.StringIO(body, newline=""), delimiter=";"))


def _xlsx(response) -> list[list[object]]:
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _paris(dt: datetime) -> str:
    return paris(dt).strftime("%d/%m/%Y %H:%M")


def _email(rt, case, to: str) -> None:
    with rt.db.write() as session:
        session.add(
            Email(
                idempotency_key=f"test.{case.id}.{to}",
                kind="invitation",
                case_id=case.id,
                coop_id=case.coop_id,
                to_address=to,
                subject="Compte sur OCCE : configurez votre mot de passe",
                text_body="Bonjour",
                html_body="<p>Bonjour</p>",
                message_id=f"<{case.id}@coopflow.occe.coop>",
                status=EmailStatus.SENT.value,
                created_at=case.created_at,
            )
        )


def _rename_coop(rt, coop_id: int, name: str) -> None:
    with rt.db.write() as session:
        session.execute(update(Coop).where(Coop.id == coop_id).values(name=name))


def test_the_stuck_cases_as_csv(client, rt, staff06, ad50, make_case):
    make_case("created")
    first = make_case("expired")
    second = make_case("bounced")
    make_case("expired", of=ad50)
    log_in(client, staff06)

    response = client.get("/admin/dossiers-export/csv", query_string={"bloques": "1"})

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="?coopflow-dossiers-bloques-\d{8}-\d{4}\.csv"?',
        response.headers["Content-Disposition"],
    )
    stamp = paris(rt.engine.clock.now()).strftime("%Y%m%d-")
    assert stamp in response.headers["Content-Disposition"]
    header, *rows = _csv(response)
    assert header == CASE_HEADERS
    assert [int(r[0]) for r in rows] == [first.id, second.id]  # the list's order
    expired = dict(zip(header, rows[0], strict=True))
    assert expired["Processus"] == "Invitation et mot de passe"
    assert expired["État"] == rt.engine.definitions["invitation"].label("expired")
    assert expired["Coopérative"] == first.coop.name
    assert expired["N° d'affiliation"] == first.coop.affiliation_number
    assert expired["AD"] == "AD06"
    assert expired["Bloqué"] == "Invitation expirée"
    assert expired["Message de blocage"] == first.stuck_message
    assert expired["Bloqué depuis"] == _paris(first.stuck_since)  # Paris time, not UTC
    assert expired["Bloqué depuis"] != first.stuck_since.strftime("%d/%m/%Y %H:%M")
    assert expired["Assigné à"] == ""
    bounced = dict(zip(header, rows[1], strict=True))
    assert bounced["Bloqué"] == "Adresse email refusée"


def test_the_stuck_cases_as_xlsx(client, rt, readonly06, make_case):
    first = make_case("expired")
    second = make_case("bounced")
    make_case("created")
    log_in(client, readonly06)  # read-only accounts may export: it only reads

    response = client.get("/admin/dossiers-export/xlsx", query_string={"bloques": "1"})

    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert re.search(
        r"coopflow-dossiers-bloques-\d{8}-\d{4}\.xlsx", response.headers["Content-Disposition"]
    )
    workbook = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    sheet = workbook.active
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.b
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header == CASE_HEADERS
    assert [r[0] for r in rows] == [first.id, second.id]
    since = rows[0][CASE_HEADERS.index("Bloqué depuis")]
    assert isinstance(since, datetime)  # a real Excel date, in Paris time
    expected = paris(first.stuck_since).replace(tzinfo=None)
    assert abs((since - expected).total_seconds()) < 1
    assert rows[0][CASE_HEADERS.index("Bloqué")] == "Invitation expirée"


def test_ad_staff_never_export_another_ads_rows(client, rt, staff06, national, ad50, make_case):
    mine = make_case("expired")
    theirs = make_case("expired", of=ad50)
    _email(rt, mine, "eloise.martin@ac-nice.fr")
    _email(rt, theirs, "jean.lefevre@ac-normandie.fr")
    log_in(client, staff06)

    cases = _csv(client.get("/admin/dossiers-export/csv"))
    assert [int(r[0]) for r in cases[1:]] == [mine.id]
    assert _csv(client.get("/admin/dossiers-export/csv", query_string={"ad": "AD50"}))[1:] == []
    assert [r[0] for r in _xlsx(client.get("/admin/dossiers-export/xlsx"))[1:]] == [mine.id]
    coops = client.get("/admin/cooperatives/export/csv/").get_data(as_text=True)
    assert mine.coop.affiliation_number in coops
    assert theirs.coop.affiliation_number not in coops
    coops_xlsx = _xlsx(client.get("/admin/cooperatives/export/xlsx/"))
    assert [r[1] for r in coops_xlsx[1:]] == [mine.coop.affiliation_number]
    emails = client.get("/admin/emails/export/csv/").get_data(as_text=True)
    assert "eloise.martin@ac-nice.fr" in emails and "jean.lefevre" not in emails
    emails_xlsx = _xlsx(client.get("/admin/emails/export/xlsx/"))
    assert [r[1] for r in emails_xlsx[1:]] == ["eloise.martin@ac-nice.fr"]

    log_in(client, national)
    everyone = _csv(client.get("/admin/dossiers-export/csv"))
    assert sorted(int(r[0]) for r in everyone[1:]) == sorted([mine.id, theirs.id])
    assert len(_csv(client.get("/admin/emails/export/csv/"))) == 3


def test_a_search_or_a_filter_narrows_the_export(client, rt, staff06, make_case):
    wanted = make_case("created", email="helene.dupre@ac-nice.fr")
    other = make_case("expired")
    _email(rt, wanted, "helene.dupre@ac-nice.fr")
    _email(rt, other, "paul.durand@ac-nice.fr")
    log_in(client, staff06)

    found = _csv(client.get("/admin/dossiers-export/csv", query_string={"q": "dupre"}))
    assert [int(r[0]) for r in found[1:]] == [wanted.id]
    response = client.get("/admin/dossiers-export/csv", query_string={"q": "dupre"})
    assert "recherche-dupre" in response.headers["Content-Disposition"]
    by_state = _csv(
        client.get("/admin/dossiers-export/csv", query_string={"etat": "invitation.expired"})
    )
    assert [int(r[0]) for r in by_state[1:]] == [other.id]

    coops = _csv(client.get("/admin/cooperatives/export/csv/", query_string={"search": "dupre"}))
    assert coops[0] == [
        "AD",
        "N° d'affiliation",
        "Nom",
        "École",
        "Code postal",
        "Commune",
        "Email de l'école",
        "Email du mandataire",
    ]
    assert [r[1] for r in coops[1:]] == [wanted.coop.affiliation_number]
    assert coops[1][-1] == "helene.dupre@ac-nice.fr"

    emails = _csv(client.get("/admin/emails/export/csv/", query_string={"search": "durand"}))
    assert emails[0][:5] == ["Date", "Destinataire", "Objet", "Type", "Statut"]
    assert [r[1] for r in emails[1:]] == ["paul.durand@ac-nice.fr"]
    assert emails[1][0] == _paris(other.created_at)
    assert emails[1][2] == "Compte sur OCCE : configurez votre mot de passe"  # no link markup
    assert emails[1][3:5] == ["invitation", "envoyé"]
    flt = _csv(client.get("/admin/emails/export/csv/", query_string={"flt0_1": "refused"}))
    assert flt[1:] == []
    # The lists' « Export » menu carries their search and filters.
    listing = text(client.get("/admin/cooperatives/", query_string={"search": "dupre"}))
    assert 'href="/admin/cooperatives/export/xlsx/?search=dupre"' in listing
    listing = text(client.get("/admin/emails/", query_string={"flt0_1": "refused"}))
    assert 'href="/admin/emails/export/csv/?flt0_1=refused"' in listing


def test_a_formula_is_text_in_both_formats(client, rt, staff06, make_case):
    case = make_case("expired")
    _rename_coop(rt, case.coop_id, FORMULA)
    log_in(client, staff06)

    [row] = _csv(client.get("/admin/dossiers-export/csv"))[1:]
    assert row[CASE_HEADERS.index("Coopérative")] == "'" + FORMULA
    [coop] = _csv(client.get("/admin/cooperatives/export/csv/"))[1:]
    assert coop[2] == "'" + FORMULA

    for path, column in (
        ("/admin/dossiers-export/xlsx", 4),
        ("/admin/cooperatives/export/xlsx/", 3),
    ):
        sheet = openpyxl.load_workbook(io.BytesIO(client.get(path).get_data())).active
        cell = sheet.cell(row=2, column=column)
        assert cell.value == FORMULA and cell.data_type == "s", path


def test_neutralise():
    assert [export.neutralise(t) for t in ("=1+2", "+33", "-x", "@SUM", "\tA", "\rA")] == [
        "'=1+2",
        "'+33",
        "'-x",
        "'@SUM",
        "'\tA",
        "'\rA",
    ]
    assert export.neutralise("Coopérative = école") == "Coopérative = école"


def test_the_case_export_reads_no_row_twice(client, rt, staff06, make_case):
    """Coop, AD and assignee come with the cases: as many queries for 6 cases as for 2."""
    log_in(client, staff06)

    def queries() -> int:
        statements: list[str] = []

        def record(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        event.listen(rt.db.engine, "before_cursor_execute", record)
        try:
            assert client.get("/admin/dossiers-export/csv").status_code == 200
        finally:
            event.remove(rt.db.engine, "before_cursor_execute", record)
        return len(statements)

    def assigned_case() -> None:
        case = make_case("expired")
        with rt.db.write() as session:
            session.execute(update(Case).where(Case.id == case.id).values(assignee_id=staff06.id))

    for _ in range(2):
        assigned_case()
    few = queries()
    for _ in range(4):
        assigned_case()
    assert queries() == few
    rows = _csv(client.get("/admin/dossiers-export/csv"))[1:]
    assert {r[CASE_HEADERS.index("Assigné à")] for r in rows} == {"Claire Agent"}


def test_past_the_cap_the_export_is_refused_in_french(client, staff06, make_case, monkeypatch):
    make_case("expired")
    make_case("expired")
    log_in(client, staff06)
    monkeypatch.setattr(export, "MAX_ROWS", 1)

    for path in ("/admin/dossiers-export/csv?bloques=1", "/admin/cooperatives/export/xlsx/"):
        refused = client.get(
            path, headers={"Referer": "http://localhost/admin/dossiers/?bloques=1"}
        )
        assert refused.status_code == 302, path
        with client.session_transaction() as session:
            [(category, message)] = session.pop("_flashes")
        assert category == "error"
        assert message == (
            "Cette liste compte 2 lignes : l'export est limité à 1. Affinez les filtres."
        )
    assert refused.headers["Location"].startswith("/admin/cooperatives/")


def test_anonymous_visitors_go_to_the_login_page(client, make_case):
    make_case("expired")
    for path in (
        "/admin/dossiers-export/csv",
        "/admin/cooperatives/export/csv/",
        "/admin/emails/export/xlsx/",
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/connexion"), path


@pytest.mark.parametrize(
    "path",
    [
        "/admin/dossiers-export/pdf",
        "/admin/dossiers-export/",
        "/admin/cooperatives/export/pdf/",
        "/admin/emails/export/json/",
    ],
)
def test_an_unknown_format_is_not_found(client, staff06, path):
    log_in(client, staff06)
    assert client.get(path).status_code == 404


def test_the_export_links_carry_the_current_filters(app):
    with app.test_request_context("/admin/"):
        template = app.jinja_env.from_string(
            '{% from "coopflow_admin/_export.html" import export_links %}'
            "{{ export_links({'bloques': '1', 'ad': 'AD06'}) }}"
        )
        html = template.render()
    assert 'href="/admin/dossiers-export/csv?bloques=1&amp;ad=AD06"' in html
    assert 'href="/admin/dossiers-export/xlsx?bloques=1&amp;ad=AD06"' in html
    assert "Exporter CSV" in html and "Exporter Excel" in html


def test_a_workbook_keeps_types_and_ends_at_the_cap(app):
    columns = [
        export.Column("Nom", lambda r: r[0]),
        export.Column("Nombre", lambda r: r[1]),
        export.Column("Actif", lambda r: r[2]),
    ]
    rows = iter([("a", 1, True), ("b", 2.5, None), ("c", 3, False)])
    sheet = openpyxl.load_workbook(export.xlsx_file(columns, rows, max_rows=2)).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[:3] == [["Nom", "Nombre", "Actif"], ["a", 1, "oui"], ["b", 2.5, None]]
    assert values[3][0] == "Export interrompu : il est limité à 2 lignes."
    chunks = b"".join(export.csv_chunks(columns, iter([("d", 2.5, True)]), max_rows=10))
    assert chunks.decode("utf-8-sig") == "Nom;Nombre;Actif\r\nd;2,5;oui\r\n"
