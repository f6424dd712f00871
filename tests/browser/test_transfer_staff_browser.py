"""The Banque Postale transfer's staff journey in a real browser on a phone (360 px): an
AD's agent opens « Lettres à envoyer » from the menu, downloads the day's letters as one
PDF (every letter in it), marks them sent, then records the funds of a coop whose
emergency advance is paid: the transfer is funded and the advance is repaid, together.

The app runs no worker (the back-office's own app): what the steps would do after is
not this journey's, and the cases move only by what staff do here."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from tests import factories
from tests.admin.conftest import app  # noqa: F401  (the app without workers)
from tests.admin.test_transfer_forms import letter_ready, with_letter
from tests.browser.test_accessibility_browser import _check
from tests.browser.test_case_page_browser import _log_in
from tests.helpers import case_of
from tests.transfer_helpers import advance_at, eligible
from workflows.models import Case

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def _state(app_, case_id: int) -> str:
    with app_.extensions["coopflow"].db.read() as session:
        found = session.get(Case, case_id)
        assert found is not None
        return found.state


def _text(page, selector: str) -> str:
    return page.inner_text(selector).replace("\u00a0", " ").replace("\u202f", " ")


def _fits(page) -> bool:
    """No horizontal scrolling: the page is as wide as the screen."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_agent_prints_the_letters_marks_them_sent_and_records_the_funds(
    app,  # noqa: F811
    live_server,
    page,
    ad,
):
    page.set_viewport_size({"width": 360, "height": 800})
    engine = app.extensions["coopflow"].engine
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    # A coop whose advance is paid, its letter made; and another coop's letter.
    mandataire = eligible(engine, ad)
    advance = advance_at(engine, ad, "disbursed", mandataire=mandataire)
    funded = with_letter(engine, case_of(engine, mandataire.coop_id, "banque_postale_transfer").id)
    other = letter_ready(engine, ad)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    _log_in(page, live_server, agent)
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="Lettres à envoyer").click()
    assert page.get_by_role("heading", name="Lettres à La Banque Postale à envoyer").is_visible()
    listed = _text(page, "main")
    assert "2 lettres à envoyer" in listed
    assert funded.coop.name in listed and other.coop.name in listed
    assert _fits(page)
    for path in (
        "/admin/lettres-banque-postale/",
        f"/admin/dossiers/{funded.id}/banque-postale/lettre",
    ):
        _check(page, f"{live_server}{path}")  # one h1, main, skip link, every field named
    page.goto(f"{live_server}/admin/lettres-banque-postale/")

    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger les lettres du jour (un seul PDF)").click()
    assert download.value.suggested_filename == "lettres-banque-postale-2026-09-07.pdf"
    with open(download.value.path(), "rb") as joined:
        letters = [p.extract_text() for p in PdfReader(io.BytesIO(joined.read())).pages]
    assert len(letters) == 2
    assert funded.coop.name in letters[0] and other.coop.name in letters[1]

    # Both ticked (the default), posted today.
    assert page.get_by_label(
        f"{funded.coop.name} (n° {funded.coop.affiliation_number})"
    ).is_checked()
    page.get_by_role("button", name="Marquer comme envoyées").click()
    assert "2 lettres marquées envoyées (le 07/09/2026)" in _text(page, "main")
    assert "Aucune lettre à envoyer." in _text(page, "main")
    assert {_state(app, c.id) for c in (funded, other)} == {"sent_to_bank"}
    assert _fits(page)

    page.goto(f"{live_server}/admin/dossiers/{funded.id}")
    page.get_by_role("link", name="Enregistrer les fonds reçus").click()
    assert "1 800,00 €" in _text(page, ".transfer-declared")
    assert _fits(page)
    _check(page, page.url)
    page.get_by_label("Montant reçu (€)").fill("1 800,00")
    page.get_by_label("Reçu le").fill("2026-09-07")
    page.get_by_role("button", name="Enregistrer les fonds reçus").click()
    assert "Fonds enregistrés : 1 800,00 € reçus le 07/09/2026." in _text(page, "main")
    assert _state(app, funded.id) == "funds_received"
    # The coop's advance, repaid by the funds in the same transaction.
    assert _state(app, advance.id) == "repaid"
    page.goto(f"{live_server}/admin/dossiers/{advance.id}")
    assert "Avance remboursée" in _text(page, "h1")
    assert problems == []
