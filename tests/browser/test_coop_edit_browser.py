"""Staff correct a coop's mandataire in a real browser: the invitation went to a wrong
address under a placeholder name (« Inconnu Destinataire »); from the coop's page they
fix the name and the address, and the new person is greeted by their own name."""

from __future__ import annotations

import pytest

from tests import factories
from tests.helpers import text_body
from workflows.engine.engine import Actor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

SYSTEM = Actor.system("test")


@pytest.mark.parametrize("width", [1280, 360])
def test_staff_correct_the_mandataire_from_the_coop_page(
    runtime, live_server, page, ad, smtp_server, width
):
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    coop = factories.CoopFactory(ad=ad, name="Coopérative de l'école Saint-Exupéry")
    person = factories.MandataireFactory(
        coop=coop, email="inconnu@ac-nice.fr", first_name="Inconnu", last_name="Destinataire"
    )
    with runtime.engine.transaction() as tx:
        case = tx.start("invitation", coop.id, actor=SYSTEM, data={"mandataire_id": person.id})
        tx.fire(case.id, "invite", actor=SYSTEM)
        tx.fire(case.id, "bounce", actor=SYSTEM, payload={"email": person.email, "error": "550"})
        case_id = case.id
    runtime.join()
    page.set_viewport_size({"width": width, "height": 900})

    page.goto(f"{live_server}/admin/connexion")
    page.get_by_label("Adresse email").fill(agent.email)
    page.get_by_label("Mot de passe").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.goto(f"{live_server}/admin/cooperatives/{coop.id}")
    page.get_by_role("link", name="Modifier la coopérative ou son mandataire").click()
    page.wait_for_url(f"{live_server}/admin/cooperatives/{coop.id}/modifier")
    assert page.get_by_label("Prénom du mandataire").input_value() == "Inconnu"
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # A mistake first: the page says it next to the field and keeps what was typed.
    page.get_by_label("Prénom du mandataire").fill("Éloïse")
    page.get_by_label("Nom du mandataire", exact=True).fill("Martin")
    page.get_by_label("Email du mandataire").fill("eloise.martin@gmail.com")
    page.get_by_role("button", name="Enregistrer les corrections").click()
    assert page.get_by_text("domaine académique de l'AD06").is_visible()
    assert page.get_by_label("Prénom du mandataire").input_value() == "Éloïse"

    page.get_by_label("Email du mandataire").fill("eloise.martin@ac-nice.fr")
    page.get_by_label("Commentaire (facultatif)").fill("Adresse donnée par la directrice.")
    page.get_by_role("button", name="Enregistrer les corrections").click()
    page.wait_for_url(f"{live_server}/admin/cooperatives/{coop.id}")
    assert page.get_by_text("L'invitation est renvoyée à la nouvelle adresse.").is_visible()
    assert page.locator("ul.mandataires").get_by_text("Éloïse Martin").is_visible()

    runtime.join()
    [message] = smtp_server.to("eloise.martin@ac-nice.fr")
    assert text_body(message).startswith("Bonjour Éloïse,")
    page.goto(f"{live_server}/admin/dossiers/{case_id}")
    assert page.get_by_text("Éloïse Martin").first.is_visible()
    assert page.get_by_text("Inconnu Destinataire").count() == 0
