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
