"""A teacher's first evening, in a real browser: the invitation link, a weak password
first, then a good one, the login, and the space showing the account as active."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.helpers import invitation_link
from workflows.coop_import import import_coops
from workflows.engine.engine import Actor
from workflows.models import AD, Case

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

CSV = (
    "numero_affiliation;nom_cooperative;ecole;email_ecole;prenom_mandataire;nom_mandataire;"
    "email_mandataire\n"
    "0060104D;Coopérative Sainte-Thérèse;École Sainte-Thérèse;ce.0060104d@ac-nice.fr;Éloïse;"
    "Martin;eloise.martin@ac-nice.fr\n"
).encode()


def test_mandataire_sets_a_password_and_logs_in(runtime, live_server, page, smtp_server, ad):
    with runtime.engine.transaction() as tx:
        import_coops(tx, tx.session.get(AD, ad.id), CSV, invite=True, actor=Actor.system("t"))
    runtime.join()
    link = live_server + urlsplit(invitation_link(smtp_server.messages[0])).path

    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(link)
    assert page.locator("h1").inner_text() == "Configuration du mot de passe"
    page.get_by_label("Mot de passe *", exact=True).fill("martin2026")
    page.get_by_label("Confirmez votre mot de passe *").fill("martin2026")
    page.get_by_role("button", name="Enregistrer").click()
    errors = page.locator("#password-errors li").all_inner_texts()
    assert "Le mot de passe ne doit pas contenir votre nom." in errors
    assert "Le mot de passe doit contenir au moins une lettre majuscule." in errors
    assert len(errors) == 3

    page.get_by_label("Mot de passe *", exact=True).fill("Cooperative*2026")
    page.get_by_label("Confirmez votre mot de passe *").fill("Cooperative*2026")
    page.get_by_role("button", name="Enregistrer").click()
    assert "/connexion" in page.url
    assert page.get_by_label("Votre adresse email").input_value() == "eloise.martin@ac-nice.fr"
    page.get_by_label("Votre mot de passe").fill("Cooperative*2026")
    page.get_by_role("button", name="Connexion").click()
    assert page.url.endswith("/mon-espace")
    assert "Compte actif" in page.locator("main").inner_text()
    with runtime.db.read() as s:
        assert s.scalars(select(Case.state).where(Case.process == "invitation")).one() == "active"

    page.get_by_role("button", name="Se déconnecter").click()
    assert "Vous êtes déconnecté." in page.locator("main").inner_text()
