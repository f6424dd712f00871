"""The coop's page in a real browser, on a desktop screen and on a phone: the picture of
its processes is shown whole, within the page, and the page does not scroll sideways."""

from __future__ import annotations

import pytest

from tests import factories
from workflows.engine.engine import Actor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

SYSTEM = Actor.system("test")


def _active_coop(runtime, ad) -> int:
    """A coop whose mandataire has logged in: its space check has started."""
    coop = factories.CoopFactory(ad=ad, name="Coopérative de l'école des Pins")
    person = factories.MandataireFactory(
        coop=coop, email=f"mandataire.{coop.id}@{ad.academic_domains[0]}"
    )
    me = Actor.mandataire(person)
    with runtime.engine.transaction() as tx:
        case = tx.start("invitation", coop.id, actor=SYSTEM, data={"mandataire_id": person.id})
        tx.fire(case.id, "invite", actor=SYSTEM)
        tx.fire(case.id, "sent", actor=SYSTEM)  # leaving ``sending`` at once: no email
        tx.fire(case.id, "set_password", actor=me)
        tx.fire(case.id, "first_login", actor=me)
    return coop.id


@pytest.mark.parametrize("width", [1280, 360])
def test_the_coop_page_shows_its_picture_on_any_screen(runtime, live_server, page, ad, width):
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    coop_id = _active_coop(runtime, ad)
    page.set_viewport_size({"width": width, "height": 900})

    page.goto(f"{live_server}/admin/connexion")
    page.get_by_label("Adresse email").fill(agent.email)
    page.get_by_label("Mot de passe").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    assert page.get_by_role("heading", name="Cas bloqués").is_visible()

    # From the coops' list to the coop's page, by its name.
    page.goto(f"{live_server}/admin/cooperatives/")
    page.get_by_role("link", name="Coopérative de l'école des Pins").click()
    page.wait_for_url(f"{live_server}/admin/cooperatives/{coop_id}")
    assert page.get_by_role("heading", name="Coopérative de l'école des Pins").is_visible()

    picture = page.get_by_role("img", name="Processus de la coopérative", exact=False)
    assert picture.is_visible()
    box = picture.bounding_box()
    assert box is not None
    assert box["width"] > 150 and box["height"] > 100
    # Its frame stays within the page; on a phone the picture scrolls inside it, its
    # smallest text readable (12 px at least: the picture is never shrunk).
    frame = page.locator("figure.coop-picture")
    frame_box = frame.bounding_box()
    assert (
        frame_box is not None
        and 0 <= frame_box["x"] <= frame_box["x"] + frame_box["width"] <= width
    )
    smallest = page.evaluate(
        """() => Math.min(...[...document.querySelectorAll('svg.coop-diagram text')]
            .map(t => t.getBoundingClientRect().height).filter(h => h > 0))"""
    )
    assert smallest >= 11, smallest
    if width < 600:
        assert frame.evaluate("f => f.scrollWidth > f.clientWidth")
    for process, words in (
        ("invitation", "Compte actif"),
        ("space_check", "À vérifier par le mandataire"),
        ("kyc", "Instructions envoyées"),
        ("iban", "En attente du RIB"),
    ):
        node = page.locator(f"svg.coop-diagram g#coop-process-{process}")
        node.scroll_into_view_if_needed()
        assert node.is_visible(), process
        assert words in " ".join((node.text_content() or "").split()), process
        node_box = node.bounding_box()
        assert (
            node_box is not None
            and 0 <= node_box["x"] <= node_box["x"] + node_box["width"] <= width
        ), process
    # The account opens the four processes that wait on it: an arrow to each, met.
    arrows = page.locator("svg.coop-diagram g.prerequisite.met")
    assert arrows.count() == 4 and all(a.is_visible() for a in arrows.all())
    # Whatever the screen, the page itself never scrolls sideways (tables scroll inside).
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.locator("table.coop-cases").is_visible()
