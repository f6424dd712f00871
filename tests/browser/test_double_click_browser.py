"""A double click in a real browser does the work once: « Confirmer l'import » imports
the file once and shows its report; « Tout est correct » confirms once and thanks."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.admin.test_import import CSV
from tests.web.conftest import make_coop  # noqa: F401 - the fixture, for the portal's test
from workflows.models import Case, CaseEvent, Coop, Mandataire
from workflows.password_hashing import hash_password

PASSWORD = "Choisi*Secret-7315"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
def slow_server(app):
    """The server takes half a second over a form (a busy day): the second click lands
    while the first submission is on its way, as it does for a person."""
    inner = app.wsgi_app

    def slow(environ, start_response):  # type: ignore[no-untyped-def]
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/confirmer"):
            time.sleep(0.5)
        return inner(environ, start_response)

    app.wsgi_app = slow
    yield
    app.wsgi_app = inner


def _double_click(page, button) -> None:
    """Two clicks, as a person double-clicks (Playwright's ``dblclick`` is so fast that
    Chromium submits once)."""
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    page.wait_for_timeout(120)
    page.mouse.click(x, y)


def _posts_to(page, path: str) -> list[str]:
    """The POST requests the page sends to ``path`` (what the double click really sent)."""
    sent: list[str] = []
    page.on(
        "request", lambda r: sent.append(r.url) if r.method == "POST" and path in r.url else None
    )
    return sent


def test_double_click_on_confirmer_l_import(runtime, live_server, slow_server, page, ad, tmp_path):
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    csv_file = tmp_path / "coops.csv"
    csv_file.write_bytes(CSV)

    page.goto(f"{live_server}/admin/")
    page.get_by_label("Adresse email").fill(agent.email)
    page.get_by_label("Mot de passe").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.goto(f"{live_server}/admin/importer/")
    page.get_by_label("Fichier CSV des coopératives").set_input_files(str(csv_file))
    page.get_by_role("button", name="Voir l'aperçu").click()
    assert "2 lignes valides" in page.inner_text("body")

    sent = _posts_to(page, "/admin/importer/confirmer")
    _double_click(page, page.get_by_role("button", name=re.compile("Confirmer l'import")))
    page.wait_for_load_state()
    page.get_by_text("Voir les coopératives").wait_for()
    body = page.inner_text("body")
    assert "2 coopératives créées, 0 mise à jour, 0 inchangée, 1 ligne en erreur" in body
    assert "inchangées" not in body
    assert len(sent) == 2, sent  # the browser did send the form twice
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Coop)) == 2
        invitations = select(func.count()).select_from(Case).where(Case.process == "invitation")
        assert session.scalar(invitations) == 2


def test_double_click_on_tout_est_correct(runtime, live_server, slow_server, page, make_coop):  # noqa: F811
    coop = make_coop("active")
    with runtime.db.write() as session:
        session.get(Mandataire, coop.mandataire_id).password_hash = hash_password(PASSWORD)
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse email").fill(coop.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.goto(f"{live_server}/mon-espace/verification")

    sent = _posts_to(page, "/mon-espace/verification/confirmer")
    _double_click(page, page.get_by_role("button", name="Tout est correct"))
    page.wait_for_load_state()
    page.get_by_text("vous avez confirmé que votre espace est correct").wait_for()
    assert "modifié" not in page.inner_text("body")  # no « Ce dossier vient d'être modifié »
    assert len(sent) == 2, sent
    with runtime.db.read() as session:
        confirms = (
            select(func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.case_id == coop.space_id, CaseEvent.trigger == "confirm")
        )
        assert session.scalar(confirms) == 1
