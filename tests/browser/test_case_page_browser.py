"""The case page in a real browser: assigning from it (« M'assigner », « Assigner »), and
its history and next deadlines as staff read them."""

from __future__ import annotations

import pytest

from tests import factories
from tests.browser.test_backoffice_browser import _invitation
from workflows.models import Case

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def _log_in(page, live_server: str, agent) -> None:
    page.goto(f"{live_server}/admin/")
    page.get_by_label("Adresse email").fill(agent.email)
    page.get_by_label("Mot de passe").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    assert page.get_by_role("heading", name="Cas bloqués").is_visible()


def _assignee(runtime, case_id: int) -> int | None:
    with runtime.db.read() as session:
        return session.get(Case, case_id).assignee_id


def _shown(page) -> str:
    """The option the assignment select shows."""
    select = page.locator("#assign-assignee")
    return select.locator("option:checked").inner_text()


def test_assign_from_the_case_page(runtime, live_server, page, ad):
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    colleague = factories.StaffFactory(ad=ad, full_name="Marc Collègue")
    case_id = _invitation(runtime, ad, "expired")
    _log_in(page, live_server, agent)
    page.goto(f"{live_server}/admin/dossiers/{case_id}")
    assert _shown(page) == "personne"

    # « M'assigner »: the case is mine, and the select says so.
    page.get_by_role("button", name="M'assigner").click()
    assert "Dossier assigné à Claire Agent." in page.inner_text("body")
    assert "déjà assigné" not in page.inner_text("body")
    assert _assignee(runtime, case_id) == agent.id
    assert _shown(page) == "Claire Agent"
    assert page.get_by_role("button", name="M'assigner").count() == 0

    # « Assigner » with a comment and the select untouched: nothing unassigned, the
    # comment kept, the reason under the select.
    page.get_by_label("Commentaire (facultatif)").fill("Je m'en occupe cette semaine.")
    page.get_by_role("button", name="Assigner", exact=True).click()
    form = page.locator("#action-assign")
    assert "Le dossier est déjà assigné à Claire Agent." in form.inner_text()
    assert form.get_by_label("Commentaire (facultatif)").input_value() == (
        "Je m'en occupe cette semaine."
    )
    assert _assignee(runtime, case_id) == agent.id

    # To a colleague, with the comment: the select shows them, even after a reload.
    page.locator("#assign-assignee").select_option(label="Marc Collègue")
    page.get_by_role("button", name="Assigner", exact=True).click()
    assert "Dossier assigné à Marc Collègue." in page.inner_text("body")
    assert _assignee(runtime, case_id) == colleague.id
    assert _shown(page) == "Marc Collègue"
    page.reload()
    assert _shown(page) == "Marc Collègue"
    timeline = page.locator("table.timeline").inner_text()
    assert "Assigné à Marc Collègue. Je m'en occupe cette semaine." in timeline

    # « personne », chosen: unassigned.
    page.locator("#assign-assignee").select_option(label="personne")
    page.get_by_role("button", name="Assigner", exact=True).click()
    assert "Dossier assigné à personne." in page.inner_text("body")
    assert _assignee(runtime, case_id) is None and _shown(page) == "personne"
