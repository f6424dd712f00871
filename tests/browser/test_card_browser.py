"""« Carte bancaire » on a phone (360 px), in a real browser without script (the
portal's CSP), as the demo mandataire who can order tries it: from the checklist to the
request, the school's address already there, a printed line of 30 characters refused
next to it (« 30 caractères : 26 au plus »), what was typed kept; fixed and ordered: the
card « Commandée », ordered from Swan (the sandbox) by the embedded worker while the page
reloads itself, until Swan asks for the mandataire's consent and the page offers its
link; then followed at the sandbox's card page to « activée » (the PIN, the
responsibility) and to three wrong PINs (suspended, what to do). No horizontal scroll."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from tests.browser.test_affiliation_browser import _accessible, _fits, _said
from tests.browser.test_transfer_browser import log_in
from tests.card_helpers import to_order
from tests.helpers import case_of
from web.portal.card_form import RESPONSIBLE
from workers.providers.swan.interface import NewMember
from workflows import swan_events
from workflows.models import Mandataire

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PROCESS = "card_order"
TOO_LONG = "COOPERATIVE ECOLE JULES-FERRYS"  # 30 characters: 26 at most
PRINTED = "COOP ECOLE JULES-FERRY"


def member_at_swan(runtime, person: Mandataire) -> None:
    """Swan's membership of ``person`` in the sandbox, tied to the coop's kyc case as
    ``request_identification`` ties it: what ``order_card`` orders the card for."""
    membership = runtime.swan.add_member(
        NewMember(
            account_id=None,
            email=person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            coop_ref=f"coop-{person.coop_id}",
        )
    )
    kyc = case_of(runtime.engine, person.coop_id, "kyc")
    with runtime.engine.transaction() as tx:
        swan_events.tie(tx, tx.lock(kyc.id), "membership", membership.id)


def until(page, url: str, selector: str, words: str, seconds: float = 30) -> None:
    """``url`` reloaded until ``selector`` says ``words`` (a webhook's sync runs in the
    embedded worker)."""
    deadline = time.monotonic() + seconds
    while True:
        page.goto(url)
        found = page.locator(selector)
        if found.count() and words in _said(page, selector):
            return
        assert time.monotonic() < deadline, (words, page.locator("#etat").inner_text())
        time.sleep(0.5)


def at_swan(page, live_server: str, consent_url: str, button: str) -> None:
    """What the mandataire or Swan's card maker does on the sandbox's card page (the
    consent link's page, on the live server)."""
    parts = urlsplit(consent_url)
    page.goto(f"{live_server}{parts.path}?{parts.query}")
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state()


def test_a_printed_line_too_long_then_the_card_ordered_to_the_school_on_a_phone(
    runtime, live_server, page, ad
):
    person, _ = to_order(runtime.engine, ad)
    member_at_swan(runtime, person)
    log_in(runtime, page, live_server, person)
    line = page.locator(f'li[data-process="{PROCESS}"]')
    assert "À faire : commandez la carte de la coopérative" in line.inner_text().replace(
        "\u00a0", " "
    )
    line.get_by_role("link", name="Commander la carte").click()
    page.wait_for_url("**/mon-espace/carte")
    assert page.get_by_role("heading", level=1).inner_text() == "Carte bancaire"
    assert "Indiquez bien l'adresse de l'école" in _said(page, "#adresse-ecole")
    assert page.get_by_label("Adresse (numéro et rue)").input_value() == "12 rue de la République"
    assert page.get_by_label("Ville").input_value() == "Nice"
    assert "ELOISE MARTIN" in _said(page, "#titulaire")
    _fits(page)
    _accessible(page)

    # A printed line of 30 characters: its error next to it, nothing stored.
    field = page.get_by_label("Ligne imprimée sur la carte")
    field.fill(TOO_LONG)
    page.get_by_label(RESPONSIBLE).check()
    page.get_by_role("button", name="Commander la carte").click()
    field = page.get_by_label("Ligne imprimée sur la carte")
    field.wait_for()
    assert field.get_attribute("aria-invalid") == "true"
    assert "printed_line-error" in (field.get_attribute("aria-describedby") or "")
    assert _said(page, "#printed_line-error") == "30 caractères : 26 au plus."
    assert "Rien n'a été enregistré" in _said(page, "#erreurs")
    assert field.input_value() == TOO_LONG  # kept, to correct
    assert page.get_by_label(RESPONSIBLE).is_checked()
    assert page.locator("#line1-error").count() == 0
    case = case_of(runtime.engine, person.coop_id, PROCESS)
    assert case.state == "to_order" and "request" not in case.data
    _fits(page)
    _accessible(page)

    # An address line past Swan's 38 characters: refused next to it as well.
    street = page.get_by_label("Adresse (numéro et rue)")
    street.fill("12 rue de la République, bâtiment B, 2e étage")  # 45 characters
    field.fill(PRINTED)
    page.get_by_role("button", name="Commander la carte").click()
    street = page.get_by_label("Adresse (numéro et rue)")
    street.wait_for()
    assert street.get_attribute("aria-invalid") == "true"
    assert _said(page, "#line1-error") == "45 caractères : 38 au plus."
    assert case_of(runtime.engine, person.coop_id, PROCESS).state == "to_order"
    _fits(page)

    # Fixed: ordered to the school.
    street.fill("12 rue de la République")
    field = page.get_by_label("Ligne imprimée sur la carte")
    field.fill(PRINTED)
    page.get_by_role("button", name="Commander la carte").click()
    assert "la carte est commandée à la banque, livrée à l'école" in _said(page, ".flash")
    assert "Commandée : la carte est demandée à la banque" in _said(page, "#etat")
    assert "12 rue de la République, 06000 Nice (l'école)" in _said(page, "#adresse")
    assert page.get_by_role("button", name="Commander la carte").count() == 0
    _fits(page)
    _accessible(page)
    # The worker orders it from Swan (the sandbox) while the page reloads itself: Swan
    # asks for the mandataire's consent, whose link the page then offers.
    consent = page.locator("#accord")
    consent.wait_for(timeout=30_000)
    assert "À faire : donnez votre accord à la banque" in _said(page, "#etat")
    _fits(page)
    case = case_of(runtime.engine, person.coop_id, PROCESS)
    assert case.state == "consent_pending"
    assert consent.get_attribute("href") == case.data["card"]["consent_url"]
    request = case.data["request"]
    assert request["printed_line"] == PRINTED and request["school_address"] is True
    assert request["holder"] == "ELOISE MARTIN" and request["responsible"] is True

    # Followed to « activée » at the sandbox: each move's Card.Updated synced by the
    # worker; then three wrong PINs, the card suspended.
    consent_url, portal = case.data["card"]["consent_url"], f"{live_server}/mon-espace/carte"
    at_swan(page, live_server, consent_url, "Donner mon accord")
    until(page, portal, "#etat", "En fabrication par la banque")
    at_swan(page, live_server, consent_url, "Carte fabriquée et envoyée")
    until(page, portal, "#etat", "Envoyée : activez la carte dès réception")
    card = case_of(runtime.engine, person.coop_id, PROCESS).data["card"]
    assert card["tracking_number"] and card["tracking_number"] in _said(page, "#suivi")
    _fits(page)
    at_swan(page, live_server, consent_url, "Activer la carte reçue")
    until(page, portal, "#etat", "Terminé : la carte est activée")
    assert "récupérer votre code PIN" in _said(page, "#code-pin")
    assert "Vous êtes responsable de l'utilisation" in _said(page, "#responsable")
    assert page.locator("#suspendue").count() == 0
    _fits(page)
    _accessible(page)
    at_swan(page, live_server, consent_url, "Trois codes PIN faux")
    until(page, portal, "#suspendue", "La carte est suspendue")
    _fits(page)
