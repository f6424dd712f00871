"""« Affiliation de l'année » on a phone (360 px), in a real browser and without script
(the portal's CSP), as a new mandataire tries it: seed 004's three classes added one by
one (the fee changing with each), the subscription ticked, « Mettre à jour le montant »
reading « Montant de l'adhésion : 136,99 € »; sent; the payment reference; the
commitment to sign downloaded once the embedded worker has rendered it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.test_accessibility_browser import _STRUCTURE
from tests.helpers import case_of
from tests.web.conftest import make_coop  # noqa: F401 - the fixture
from tests.web.portal.test_affiliation import add_prices
from workflows.models import Mandataire
from workflows.password_hashing import hash_password

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PASSWORD = "Choisi*Secret-7315"
WIDTH = 360
#: The commitment's template (the documents' own work): the PDF is waited for once it is.
COMMITMENT = Path(__file__).parents[2] / "workers/templates/documents/affiliation/commitment.html"
#: (name, teachers, number of teachers, of pupils), and the fee once it is added.
CLASSES = (
    ("CE1", "Mme Detruc - Mlle Machin", "2", "23", "55,79 €"),
    ("CE2", "M. Chose", "1", "22", "97,85 €"),
    ("CP", "M. Aymard", "1", "18", "132,99 €"),
)


def _fits(page) -> None:
    """No horizontal scroll: nothing wider than the screen."""
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, page.url


def _accessible(page) -> None:
    """Every field named (its label), one h1, no id twice (a label or a message tied to
    the wrong field)."""
    found = page.evaluate(_STRUCTURE)
    assert found["unnamed"] == [] and found["h1"] == 1 and found["lang"] == "fr", found
    ids = page.evaluate("[...document.querySelectorAll('[id]')].map((e) => e.id)")
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def _said(page, selector: str) -> str:
    return page.locator(selector).inner_text().replace("\u00a0", " ").replace("\u202f", " ")


def _log_in(runtime, page, live_server, coop) -> None:
    with runtime.db.write() as session:
        session.get(Mandataire, coop.mandataire_id).password_hash = hash_password(PASSWORD)
    page.set_viewport_size({"width": WIDTH, "height": 740})
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse email").fill(coop.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.wait_for_url("**/mon-espace")


def test_three_classes_the_fee_and_the_commitment_on_a_phone(
    runtime,
    live_server,
    page,
    make_coop,  # noqa: F811
    ad,
):
    add_prices(runtime, ad.id)
    coop = make_coop("active")
    _log_in(runtime, page, live_server, coop)
    line = page.locator('li[data-process="affiliation"]')
    assert "À faire : complétez l'adhésion de l'année" in line.inner_text().replace("\u00a0", " ")
    line.get_by_role("link", name="Compléter l'adhésion").click()
    page.wait_for_url("**/mon-espace/adhesion")
    assert page.get_by_role("heading", level=1).inner_text() == "Affiliation 2026-2027"
    assert _said(page, "#total") == "Montant de l'adhésion : 8,00 €"  # the flat fee alone
    _fits(page)
    _accessible(page)

    for name, teachers, teacher_count, pupil_count, fee in CLASSES:
        new = page.locator("fieldset.class-new")
        new.get_by_label("Nom ou niveau de la classe").fill(name)
        new.get_by_label("Noms des enseignants").fill(teachers)
        new.get_by_label("Nombre d'enseignants").fill(teacher_count)
        new.get_by_label("Nombre d'élèves").fill(pupil_count)
        new.get_by_role("button", name="Ajouter la classe").click()
        page.wait_for_load_state()
        assert f"Classe « {name} » ajoutée." in _said(page, ".flash")
        assert _said(page, "#total") == f"Montant de l'adhésion : {fee}"
        _fits(page)
    legends = page.locator("fieldset.class-row legend").all_inner_texts()
    assert [t.replace("\u00a0", " ") for t in legends] == [
        "Classe 1 : CE1",
        "Classe 2 : CE2",
        "Classe 3 : CP",
        "Ajouter une classe",
    ]
    assert "4 enseignants et 63 élèves" in _said(page, "#effectifs")

    # A bad count is said next to its field, what was typed kept, nothing stored.
    pupils = page.locator("#classes-2-pupil_count")
    pupils.fill("dix-huit")
    page.get_by_role("button", name="Mettre à jour le montant").click()
    assert pupils.get_attribute("aria-invalid") == "true"
    assert pupils.input_value() == "dix-huit"
    assert "classes-2-pupil_count-error" in (pupils.get_attribute("aria-describedby") or "")
    assert _said(page, "#classes-2-pupil_count-error") == (
        "Le nombre d'élèves doit être un nombre entier (par exemple 23)."
    )
    assert (
        case_of(runtime.engine, coop.coop_id, "affiliation").data["form"]["classes"][2][
            "pupil_count"
        ]
        == 18
    )
    _fits(page)
    pupils.fill("18")

    page.get_by_label(re.compile(r"^Abonnement à TOTO est content")).check()
    page.get_by_role("button", name="Mettre à jour le montant").click()
    page.wait_for_load_state()
    assert _said(page, "#total") == "Montant de l'adhésion : 136,99 €"
    fee = _said(page, ".fee-lines")
    assert "Adhésion des élèves (63 × 1,73 €)" in fee and "108,99 €" in fee
    _fits(page)

    page.get_by_role("button", name="Envoyer l'adhésion").click()
    page.wait_for_url("**/mon-espace/adhesion*")
    reference = f"ADH-2026-{coop.affiliation_number}"
    assert reference in _said(page, "#reference")
    assert "Votre adhésion est envoyée." in _said(page, ".flash")
    assert _said(page, "#total") == "Montant de l'adhésion : 136,99 €"
    papers = _said(page, ".papers")
    assert "1. le paiement de 136,99 €" in papers and "pas de changement" in papers
    assert page.get_by_role("button", name="Envoyer l'adhésion").count() == 0
    _fits(page)
    _accessible(page)

    if not COMMITMENT.exists():
        # The commitment is rendered by a step whose template is not there: the page
        # says it is on its way.
        assert "en préparation" in _said(page, "#engagement")
        return
    # The page reloads itself until the worker has rendered the commitment.
    link = page.locator("#engagement").get_by_role(
        "link", name="Engagement du mandataire 2026-2027"
    )
    link.wait_for(timeout=30_000)
    assert "Envoyée : votre AD attend le paiement et l'engagement signé" in _said(page, "#etat")
    with page.expect_download() as download:
        link.click()
    content = Path(download.value.path()).read_bytes()
    assert content.startswith(b"%PDF")
    assert download.value.suggested_filename == (
        f"engagement-mandataire-2026-2027-{coop.affiliation_number}.pdf"
    )
    assert page.locator("#documents").get_by_role("link").count() >= 1
    _fits(page)
    assert case_of(runtime.engine, coop.coop_id, "affiliation").state == "awaiting_validation"
