"""A teacher's evening on a phone (and on a computer), in a real browser: the invitation
link, the password, the checklist, « Vérification de l'espace », a problem reported;
then the AD's agent finds it in the back-office's tasks and on the case."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests import factories
from tests.helpers import invitation_link
from workflows.coop_import import import_coops
from workflows.engine.engine import Actor
from workflows.models import AD, Case, Task

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

CSV = (
    "numero_affiliation;nom_cooperative;ecole;adresse;code_postal;commune;email_ecole;"
    "prenom_mandataire;nom_mandataire;email_mandataire\n"
    "0060104D;Coopérative Sainte-Thérèse;École Sainte-Thérèse;3 rue Pastorelli;06000;Nice;"
    "ce.0060104d@ac-nice.fr;Éloïse;Martin;eloise.martin@ac-nice.fr\n"
).encode()
PASSWORD = "Cooperative*2026"
PROBLEM = "L'école affichée n'est pas la nôtre : nous sommes l'école Sainte-Thérèse de Nice Nord."
VIEWPORTS = {"telephone": (360, 740), "ordinateur": (1280, 800)}


def _fits(page, width: int) -> None:
    """No horizontal scroll: nothing wider than the screen."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def _line(page, process: str) -> str:
    """A checklist line's text, its non-breaking spaces (French typography) as spaces."""
    return page.locator(f'li[data-process="{process}"]').inner_text().replace("\u00a0", " ")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_teacher_reports_a_problem_that_staff_then_see(
    runtime, live_server, page, smtp_server, ad, viewport
):
    width, height = VIEWPORTS[viewport]
    page.set_viewport_size({"width": width, "height": height})
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    with runtime.engine.transaction() as tx:
        import_coops(tx, tx.session.get(AD, ad.id), CSV, invite=True, actor=Actor.system("t"))
    runtime.join()
    link = live_server + urlsplit(invitation_link(smtp_server.messages[0])).path

    # The invitation link, the password, the first login.
    page.goto(link)
    page.get_by_label("Mot de passe *", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmez votre mot de passe *").fill(PASSWORD)
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_label("Votre mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    assert page.url.endswith("/mon-espace")

    # The checklist: the next step is obvious, and a real link reached by the keyboard.
    assert page.get_by_role("heading", name="Coopérative Sainte-Thérèse").is_visible()
    assert "Compte actif" in _line(page, "invitation") and "Terminé" in _line(page, "invitation")
    check = page.get_by_role("link", name="Vérifier mon espace")
    assert check.is_visible()
    nav = page.get_by_role("navigation", name="Espace de la coopérative")
    for name in ("Mon espace", "Vérification de l'espace", "Documents"):
        assert nav.get_by_role("link", name=name).is_visible()
    assert page.get_by_text("Éloïse Martin").is_visible()
    assert page.get_by_role("button", name="Se déconnecter").is_visible()
    _fits(page, width)
    check.focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    page.wait_for_url("**/mon-espace/verification")

    # « Vérification de l'espace »: the three checks, then a problem, empty first.
    assert page.get_by_role("heading", name="Vérification de l'espace").is_visible()
    for heading in ("1. Informations du groupe", "2. Administrateurs", "3. Compte bancaire"):
        assert page.get_by_role("heading", name=heading).is_visible()
    main = page.locator("main").inner_text()
    assert "3 rue Pastorelli" in main and "eloise.martin@ac-nice.fr" in main
    assert "Aucun compte bancaire n'est encore enregistré" in main
    _fits(page, width)
    page.get_by_role("button", name="Signaler un problème").click()
    message = page.get_by_label("Décrivez le problème")
    assert message.get_attribute("aria-invalid") == "true"
    error = page.locator("#message-error")
    assert error.inner_text() == "Décrivez le problème constaté\u00a0: votre message est vide."
    assert "message-error" in (message.get_attribute("aria-describedby") or "")
    _fits(page, width)
    message.fill(PROBLEM)
    page.get_by_role("button", name="Signaler un problème").click()

    # Back on the checklist: nothing to do, the AD's team is on it.
    assert page.url.endswith("/mon-espace#contenu")
    assert "Votre signalement est envoyé" in page.locator("main").inner_text()
    line = _line(page, "space_check")
    assert "s'en occupe" in line and PROBLEM in line
    assert page.get_by_role("link", name="Vérifier mon espace").count() == 0
    _fits(page, width)
    page.get_by_role("button", name="Se déconnecter").click()
    assert "Vous êtes déconnecté." in page.locator("main").inner_text()

    with runtime.db.read() as s:
        case = s.scalars(select(Case).where(Case.process == "space_check")).one()
        assert s.scalars(select(Task.note).where(Task.case_id == case.id)).one() == PROBLEM

    # The AD's agent, in the same browser: the task in « Tâches », then on the case.
    page.goto(f"{live_server}/admin/connexion")
    page.get_by_label("Adresse email").fill(agent.email)
    page.get_by_label("Mot de passe").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.goto(f"{live_server}/admin/taches/")
    row = page.locator("tr", has_text="Traiter le problème signalé sur l'espace")
    shown = row.inner_text().replace("\u00a0", " ")  # stored as typed, shown in French typography
    assert PROBLEM in shown and "Coopérative Sainte-Thérèse" in shown
    row.get_by_role("link", name=f"#{case.id} · Vérification de l'espace").click()
    page.wait_for_url(f"**/admin/dossiers/{case.id}**")
    body = page.locator("body").inner_text().replace("\u00a0", " ")
    assert PROBLEM in body and "Problème signalé, en attente de l'équipe de l'AD" in body
