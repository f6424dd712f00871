"""The card order's staff journey in a real browser on a phone (360 px): a card the bank
sent came back to the AD's office instead of the school; an agent records the day it
arrived (a day in the future refused in French first), reads on the case page that it
must be sent on, and resends it to the school.

The app runs no worker (the back-office's own app): the emails' steps stay queued, the
case is brought where the journey starts by the engine (tests/card_helpers.py)."""

from __future__ import annotations

import pytest

from tests import factories
from tests.admin.conftest import app  # noqa: F401  (the app without workers)
from tests.browser.test_accessibility_browser import _check
from tests.browser.test_advance_staff_browser import _case
from tests.browser.test_case_page_browser import _log_in
from tests.browser.test_transfer_staff_browser import _fits, _text
from tests.card_helpers import card_at
from tests.transfer_helpers import steps_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def test_an_agent_records_a_card_back_at_the_ad_then_resends_it(
    app,  # noqa: F811
    live_server,
    page,
    ad,
):
    page.set_viewport_size({"width": 360, "height": 800})
    engine = app.extensions["coopflow"].engine
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    case = card_at(engine, ad, "shipped")
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    _log_in(page, live_server, agent)
    page.goto(f"{live_server}/admin/dossiers/{case.id}")
    page.get_by_role("link", name="Enregistrer une carte revenue à l'AD").click()
    request = _text(page, ".card-request")
    assert "4 avenue Thiers" in request and "12 rue de la République" in request
    assert _fits(page)
    _check(page, page.url)  # one h1, main, skip link, every field named
    day = page.get_by_label("Arrivée à l'AD le")
    assert day.input_value() == "2026-09-07"  # today proposed
    day.fill("2026-09-08")
    page.get_by_role("button", name="Enregistrer la carte revenue").click()
    assert "Le jour d'arrivée de la carte ne peut pas être dans le futur." in _text(page, "main")
    assert _case(app, case.id).state == "shipped"
    page.get_by_label("Arrivée à l'AD le").fill("2026-09-05")
    page.get_by_role("button", name="Enregistrer la carte revenue").click()
    assert "Carte revenue à l'AD le 05/09/2026" in _text(page, "main")
    back = _case(app, case.id)
    assert (back.state, back.stuck_reason) == ("returned_to_ad", "card_returned_to_ad")
    assert back.data["return"] == {"received_on": "2026-09-05", "by": "Claire Agent"}
    assert "Action recommandée : Renvoyer la carte" in " ".join(_text(page, "main").split())
    assert _fits(page)

    # The recommended action leads to the page where it is sent on.
    page.get_by_role("link", name="Renvoyer la carte", exact=True).click()
    assert "le 05/09/2026 (enregistrée par Claire Agent)" in _text(page, ".card-received")
    assert "12 rue de la République" in _text(page, ".card-school")
    assert _fits(page)
    _check(page, page.url)
    page.get_by_role("button", name="Renvoyer la carte à l'école").click()
    assert "Carte renvoyée à l'école : le mandataire est prévenu par email." in _text(page, "main")
    sent = _case(app, case.id)
    assert (sent.state, sent.stuck_reason) == ("shipped", None)
    assert sent.data["return"]["outcome"] == "resent"
    assert steps_of(engine, case.id)[-2:] == ["notify_returned", "notify_shipped"]
    assert _fits(page)
    assert problems == []
