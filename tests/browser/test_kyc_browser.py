"""« Vérification d'identité » on a phone (360 px), in a real browser: Swan's page opens
in its own tab (the sandbox's stand-in, driven as the person and Swan's reviewers
would), a refusal comes back with its reason in French and what to do, « Recommencer
la vérification », then the identity verified. Swan's webhooks reach the platform
through the sandbox page; the embedded worker runs the steps."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.helpers import case_of
from tests.web.conftest import make_coop  # noqa: F401 - the fixture
from workflows.models import Mandataire
from workflows.password_hashing import hash_password
from workflows.processes.kyc.reasons import reason_text

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PASSWORD = "Choisi*Secret-7315"
WIDTH = 360


def _fits(page) -> None:
    """No horizontal scroll: nothing wider than the screen."""
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, page.url


def _main(page) -> str:
    return page.locator("main").inner_text().replace("\u00a0", " ")


def _until(page, words: str, timeout: float = 15_000) -> None:
    """Reload the portal's page, as the mandataire would, until it says ``words``."""
    waited = 0.0
    while words not in _main(page):
        assert waited < timeout, (words, _main(page))
        page.wait_for_timeout(250)
        waited += 250
        page.reload()


def _swan_tab(page):
    """« Vérifier mon identité chez Swan »: Swan's page, in a tab of its own."""
    link = page.locator("a#swan")
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener"
    with page.context.expect_page() as opened:
        link.click()
    swan = opened.value
    swan.wait_for_load_state()
    assert swan is not page and page.url.endswith("/mon-espace/identite")
    swan.set_viewport_size({"width": WIDTH, "height": 740})
    assert "Swan" in swan.locator("header").inner_text()
    return swan


def _on_swan(swan, *buttons: str) -> None:
    for name in buttons:
        swan.get_by_role("button", name=name).click()
        swan.wait_for_load_state()
        assert name in swan.locator(".flash").inner_text().replace("\u00a0", " ")
    _fits(swan)


@pytest.fixture
def swan_here(page, live_server):
    """The links the platform prints use its configured address (``base_url``): the
    browser is sent to the live server instead, as if it were that address."""
    base = "http://coopflow.test"

    def forward(route) -> None:  # type: ignore[no-untyped-def]
        parts = urlsplit(route.request.url)
        target = f"{live_server}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        route.fulfill(response=route.fetch(url=target, max_redirects=0))

    page.context.route(f"{base}/**", forward)
    return base


def test_a_kyc_refusal_then_success_on_a_phone(runtime, live_server, page, swan_here, make_coop):  # noqa: F811
    coop = make_coop("active")
    with runtime.db.write() as session:
        session.get(Mandataire, coop.mandataire_id).password_hash = hash_password(PASSWORD)
    page.set_viewport_size({"width": WIDTH, "height": 740})
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse email").fill(coop.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.wait_for_url("**/mon-espace")
    page.get_by_role("link", name="Vérifier mon identité").click()
    page.wait_for_url("**/mon-espace/identite")

    # What to prepare and where it happens.
    assert page.get_by_role("heading", level=1).inner_text() == "Vérification d'identité"
    main = _main(page)
    assert "À faire : vérifiez votre identité avec votre smartphone" in main
    for need in ("carte nationale d'identité ou votre passeport", "smartphone", "5 minutes"):
        assert need in main
    assert "Chez Swan, la banque partenaire du Compte Pro, sur sa propre page" in main
    _fits(page)

    # On Swan's page: begun, documents sent, refused (an expired document).
    swan = _swan_tab(page)
    _on_swan(swan, "Commencer", "Envoyer mes pièces", "Refuser : pièce expirée")
    swan.close()
    expired = reason_text("ExpiredDocument")
    _until(page, "Refusée : recommencez la vérification")
    main = _main(page)
    assert expired.what in main and f"À faire : {expired.todo}" in main
    assert page.locator("a#swan").count() == 0  # the refused attempt's page is not offered
    _fits(page)

    # « Recommencer la vérification »: a new link, and this time Swan says yes.
    page.get_by_role("button", name="Recommencer la vérification").click()
    assert "C'est reparti" in _main(page)
    page.locator("a#swan").wait_for(timeout=15_000)  # the page reloads itself meanwhile
    swan = _swan_tab(page)
    _on_swan(swan, "Commencer", "Envoyer mes pièces")
    _until(page, "Pièces envoyées : Swan les examine")
    assert page.locator('meta[http-equiv="refresh"]').count() == 1
    _on_swan(swan, "Identité validée")
    swan.close()
    # (It reloads itself every 15 s while Swan examines: reloaded here at once.)
    _until(page, "Identité vérifiée")
    assert re.search(r"Identité vérifiée le \d\d/\d\d/\d{4} à \d\d:\d\d", _main(page))
    assert page.locator("a#swan").count() == 0
    _fits(page)
    assert case_of(runtime.engine, coop.coop_id, "kyc").state == "verified"
