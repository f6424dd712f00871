"""The back-office at the portal's level of accessibility, in a real browser: every page
in French (``lang``), one ``h1``, a ``main``, a skip link to it as the first thing the
keyboard reaches, a label on every field (search boxes and filters included); the case
page used on a phone (360 px) without scrolling sideways."""

from __future__ import annotations

import pytest

from tests import factories
from tests.browser.test_backoffice_browser import _invitation
from tests.helpers import invitation_email, manual_task

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

#: What a page must have, read by the browser itself: lang, headings, landmarks, the
#: skip link, and the fields a screen reader would announce without a name.
_STRUCTURE = """() => {
  const named = (el) => (el.labels && el.labels.length) || el.getAttribute('aria-label')
    || el.getAttribute('aria-labelledby') || el.getAttribute('title');
  const visible = (el) => el.type !== 'hidden' && el.getClientRects().length > 0;
  const fields = [...document.querySelectorAll('input, select, textarea')].filter(visible);
  const focusable = document.querySelector(
    'a[href], button, input:not([type=hidden]), select, textarea');
  const main = document.querySelector('main');
  return {
    lang: document.documentElement.lang,
    h1: document.querySelectorAll('h1').length,
    main: document.querySelectorAll('main').length,
    first: focusable ? [focusable.textContent.trim(), focusable.getAttribute('href')] : null,
    mainId: main ? main.id : null,
    unnamed: fields.filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 120)),
  };
}"""


def _log_in(page, live_server: str, agent) -> None:
    page.goto(f"{live_server}/admin/")
    page.get_by_label("Adresse email").fill(agent.email)
    page.get_by_label("Mot de passe").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("heading", name="Cas bloqués").wait_for()


def _check(page, url: str) -> None:
    page.goto(url)
    found = page.evaluate(_STRUCTURE)
    assert found["lang"] == "fr", url
    assert found["h1"] == 1, (url, found["h1"])
    assert found["main"] == 1 and found["mainId"] == "contenu", url
    assert found["first"] == ["Aller au contenu", "#contenu"], (url, found["first"])
    assert not found["unnamed"], (url, found["unnamed"])


@pytest.fixture
def world(runtime, ad):
    """AD06's agent, a failed case (its traceback, its email, a task), an expired one."""
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    failed = _invitation(runtime, ad, "failed")
    _invitation(runtime, ad, "expired")
    with runtime.engine.transaction() as tx:
        case = tx.lock(failed)
        manual_task(tx, case, "Appeler l'école pour vérifier l'adresse du mandataire", days=3)
        coop_id = case.coop_id
        tx.session.add(
            invitation_email(
                f"a11y-{failed}", failed, coop_id, "une.adresse.vraiment.tres.longue@ac-nice.fr"
            )
        )
    return agent, failed, coop_id


def test_every_back_office_page_has_its_landmarks_and_labels(live_server, page, world):
    agent, failed, coop_id = world
    page.goto(f"{live_server}/admin/connexion")
    _check(page, f"{live_server}/admin/connexion")
    _log_in(page, live_server, agent)
    for path in (
        "/admin/",
        "/admin/dossiers/",
        f"/admin/dossiers/{failed}",
        "/admin/taches/",
        "/admin/emails/",
        "/admin/emails/?search=adresse",
        "/admin/cooperatives/",
        "/admin/cooperatives/?search=ecole",
        f"/admin/cooperatives/{coop_id}",
        "/admin/importer/",
        "/admin/tableau-de-bord/",
        "/admin/actions-groupees/",
        "/admin/processus/",
    ):
        _check(page, f"{live_server}{path}")


def test_the_list_filters_are_labelled(live_server, page, world):
    """Flask-Admin's filters are built by its script: each field gets its filter's name."""
    agent, _failed, _coop_id = world
    _log_in(page, live_server, agent)
    page.goto(f"{live_server}/admin/emails/")
    page.get_by_role("link", name="Ajouter un filtre").click()
    page.locator(".field-filters a", has_text="Statut").click()
    # What the keyboard reaches (select2's buttons) says which filter, then its choice.
    assert page.get_by_role("button", name="Statut : condition est").count() == 1
    assert page.get_by_role("button", name="Statut : valeur envoi en cours").count() == 1
    assert page.get_by_role("link", name="Retirer le filtre « Statut »").count() == 1
    assert not page.evaluate(_STRUCTURE)["unnamed"]
    # A list opened already filtered: the same names.
    page.goto(f"{live_server}/admin/emails/?flt0_1=sent")
    assert page.get_by_role("button", name="Statut : valeur envoyé").count() == 1


def test_the_skip_link_takes_the_keyboard_to_the_content(live_server, page, world):
    agent, _failed, _coop_id = world
    _log_in(page, live_server, agent)
    page.goto(f"{live_server}/admin/taches/")  # a page with no field focused at first
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu")
    assert skip.evaluate("a => a === document.activeElement")
    assert skip.is_visible()  # shown once focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"


def test_the_case_page_on_a_phone(live_server, page, world):
    agent, failed, _coop_id = world
    page.set_viewport_size({"width": 360, "height": 780})
    _log_in(page, live_server, agent)
    page.goto(f"{live_server}/admin/dossiers/{failed}")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    # Usable: its buttons within the screen (the task form opened), the menu behind its
    # toggle.
    page.get_by_text("Créer une tâche").click()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    buttons = ("Relancer l'étape", "M'assigner", "Marquer comme faite", "Créer la tâche")
    for name in (*buttons, "Ajouter au dossier"):
        button = page.get_by_role("button", name=name).first
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, name
    assert page.get_by_role("button", name="Menu").is_visible()
