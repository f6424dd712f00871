"""A NUL character in a form or a query string, on both backends: PostgreSQL refuses it
in text, so every request carrying one is refused first, in French, and nothing is
written (``web/guards.py``)."""

from __future__ import annotations

from tests.security.conftest import database_rows, token_of
from tests.web.conftest import settle, text
from web.guards import NUL_REFUSED


def test_a_nul_character_is_refused_in_french_and_nothing_is_written(runtime, world):
    mandataire, staff = world.clients["mandataire"], world.clients["staff"]
    case_id = world.values["case_id"]
    before = database_rows(runtime)
    requests = [
        (
            mandataire,
            "/mon-espace/verification/signaler",
            {
                "csrf_token": token_of(mandataire, "/mon-espace/verification"),
                "message": "Le trésorier\x00 a changé",
                "version": "1",
            },
        ),
        (
            staff,
            f"/admin/dossiers/{case_id}/commenter",
            {"csrf_token": token_of(staff, "/admin/"), "comment-text": "Appel\x00 fait"},
        ),
        (staff, "/admin/dossiers/?q=%00", None),
    ]
    for client, url, form in requests:
        answer = client.post(url, data=form) if form else client.get(url)
        assert answer.status_code == 400, url
        assert NUL_REFUSED in text(answer), url
    settle(runtime)
    assert database_rows(runtime) == before


def test_a_nul_character_in_the_path_is_refused_in_french(runtime, world):
    staff = world.clients["staff"]
    for url in ("/admin/dossiers/%00", "/mon-espace/%00", "/admin/actions-groupees/1%00"):
        answer = staff.get(url)
        assert answer.status_code == 400, url
        assert NUL_REFUSED in text(answer), url


# Hand-edited page numbers and cursors: the first page, never a 500 -----------------

UNREADABLE = (
    "99999999999999999999",  # past 64 bits: an overflow in the database driver
    "9223372036854775807",
    "²",  # str.isdigit() says yes, int() says no
    "١٢",  # Arabic-Indic digits: int() reads them, we do not
    "-3",
    "1e9",
    "",
)


def test_an_unreadable_list_cursor_shows_the_first_page(runtime, world):
    staff = world.clients["staff"]
    first = staff.get("/admin/dossiers/")
    assert first.status_code == 200
    cursors = [
        *UNREADABLE,
        *(f"2026-09-07T09:00:00+00:00~{bad}" for bad in UNREADABLE),
        "2026-09-07T09:00:00~12",  # no time zone: not one of ours
        "pas-une-date~12",
        "99999-01-01T00:00:00+00:00~12",
    ]
    for cursor in cursors:
        for stuck_order in ({}, {"bloques": "1"}):  # two kinds of cursor
            answer = staff.get("/admin/dossiers/", query_string={**stuck_order, "apres": cursor})
            assert answer.status_code == 200, (stuck_order, cursor)


def test_an_unreadable_report_page_shows_the_first_page(runtime, world):
    staff = world.clients["staff"]
    url = f"/admin/actions-groupees/{world.values['job_id']}"
    assert "Page précédente" in text(staff.get(url, query_string={"page": "2"}))
    for page in (*UNREADABLE, "0", "1000001"):
        answer = staff.get(url, query_string={"page": page})
        assert answer.status_code == 200, page
        assert "Page précédente" not in text(answer), page  # the first page
