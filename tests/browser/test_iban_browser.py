"""« Compte bancaire » on a phone (360 px), in a real browser: a RIB older than 12
months with a wrong RIB key, refused with each French error next to its field; then a
good one, checked and certified by the embedded worker while the page reloads itself
(no script: the portal's CSP), the account shown masked."""

from __future__ import annotations

import re

import pytest

from tests.helpers import case_of
from tests.web.conftest import make_coop  # noqa: F401 - the fixture
from tests.workflows.processes.test_iban_rib_checks import wrong_rib_key
from workflows.models import Mandataire
from workflows.password_hashing import hash_password
from workflows.processes.iban import rib_checks

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PASSWORD = "Choisi*Secret-7315"
WIDTH = 360
IBAN = "FR76 3000 6000 0112 3456 7890 189"
MASKED = "FR76 **** **** **** **** ***0 189"
PDF = {"name": "rib.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7\n" + b"0" * 400}


def _fits(page) -> None:
    """No horizontal scroll: nothing wider than the screen."""
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, page.url


def _main(page) -> str:
    return page.locator("main").inner_text().replace("\u00a0", " ")


def _log_in(runtime, page, live_server, coop) -> None:
    with runtime.db.write() as session:
        session.get(Mandataire, coop.mandataire_id).password_hash = hash_password(PASSWORD)
    page.set_viewport_size({"width": WIDTH, "height": 740})
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse email").fill(coop.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.wait_for_url("**/mon-espace")


def _fill(page, *, iban: str, rib_date: str) -> None:
    page.get_by_label("IBAN", exact=True).fill(iban)
    page.get_by_label("BIC", exact=True).fill("AGRIFRPP")
    page.get_by_label("Titulaire du compte").fill("OCCE 06")
    page.get_by_label("Date du RIB").fill(rib_date)
    page.get_by_label("RIB (PDF, PNG ou JPEG)").set_input_files(PDF)
    page.get_by_role("button", name="Déposer le RIB").click()


def test_a_bad_rib_then_a_good_one_on_a_phone(runtime, live_server, page, make_coop):  # noqa: F811
    coop = make_coop("active")
    _log_in(runtime, page, live_server, coop)
    page.get_by_role("link", name="Déposer le RIB").click()
    page.wait_for_url("**/mon-espace/compte-bancaire")
    assert page.get_by_role("heading", level=1).inner_text() == "Compte bancaire"
    _fits(page)

    # A RIB of a year and a month ago, its RIB key wrong (its IBAN check digits good).
    bad = wrong_rib_key(rib_checks.compact(IBAN))
    _fill(page, iban=bad.lower(), rib_date="2025-08-01")
    # The page reloads itself until check_rib has spoken.
    page.get_by_text(re.compile(r"RIB refusé\s:\sdéposez-en un nouveau")).wait_for(timeout=15_000)
    iban = page.get_by_label("IBAN", exact=True)
    assert iban.get_attribute("aria-invalid") == "true"
    assert iban.input_value() == bad  # what was typed, to correct
    assert page.locator("#iban-error").inner_text() == rib_checks.IBAN_BAD_RIB_KEY.replace(
        " :", "\u00a0:"
    )
    assert "iban-error" in (iban.get_attribute("aria-describedby") or "")
    date = page.get_by_label("Date du RIB")
    assert date.get_attribute("aria-invalid") == "true" and date.input_value() == "2025-08-01"
    said = page.locator("#rib_date-error").inner_text().replace("\u00a0", " ")
    assert said == rib_checks.RIB_TOO_OLD
    assert page.get_by_label("RIB (PDF, PNG ou JPEG)").input_value() == ""  # never the file
    listed = page.locator("#erreurs").inner_text().replace("\u00a0", " ")
    assert "IBAN : " in listed and "Date du RIB : " in listed
    _fits(page)

    # The errors corrected: checked, certified, the page reloading itself meanwhile.
    _fill(page, iban=IBAN, rib_date="2026-08-20")
    page.get_by_text("Compte bancaire certifié").wait_for(timeout=15_000)
    main = _main(page)
    assert MASKED in main and rib_checks.compact(IBAN) not in main
    assert "AGRIFRPP" in main and "OCCE 06" in main
    assert page.get_by_role("button", name="Le compte affiché n'est pas le nôtre").is_visible()
    assert page.get_by_label("Ce qui ne va pas").is_visible()
    _fits(page)
    assert case_of(runtime.engine, coop.coop_id, "iban").state == "certified"
    # The checklist says so too.
    page.goto(f"{live_server}/mon-espace")
    line = page.locator('li[data-process="iban"]').inner_text()
    assert re.search(r"Compte bancaire certifié", line) and "Terminé" in line
