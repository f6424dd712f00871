"""« Carte bancaire » on a phone (360 px), in a real browser without script (the
portal's CSP), as the demo mandataire who can order tries it: from the checklist to the
request, the school's address already there, a printed line of 30 characters refused
next to it (« 30 caractères : 26 au plus »), what was typed kept; fixed and ordered: the
card « Commandée », the request kept as the definition says."""

from __future__ import annotations

import pytest

from tests.browser.test_affiliation_browser import _accessible, _fits, _said
from tests.browser.test_transfer_browser import log_in
from tests.card_helpers import to_order
from tests.helpers import case_of
from web.portal.card_form import RESPONSIBLE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PROCESS = "card_order"
TOO_LONG = "COOPERATIVE ECOLE JULES-FERRYS"  # 30 characters: 26 at most
PRINTED = "COOP ECOLE JULES-FERRY"


def test_a_printed_line_too_long_then_the_card_ordered_to_the_school_on_a_phone(
    runtime, live_server, page, ad
):
    person, _ = to_order(runtime.engine, ad)
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

    # Fixed: ordered to the school.
    field.fill(PRINTED)
    page.get_by_role("button", name="Commander la carte").click()
    assert "la carte est commandée à la banque, livrée à l'école" in _said(page, ".flash")
    assert "Commandée : la carte est demandée à la banque" in _said(page, "#etat")
    assert "12 rue de la République, 06000 Nice (l'école)" in _said(page, "#adresse")
    assert page.get_by_role("button", name="Commander la carte").count() == 0
    _fits(page)
    _accessible(page)
    case = case_of(runtime.engine, person.coop_id, PROCESS)
    assert case.state != "to_order"
    request = case.data["request"]
    assert request["printed_line"] == PRINTED and request["school_address"] is True
    assert request["holder"] == "ELOISE MARTIN" and request["responsible"] is True
