"""The case page in a real browser: assigning from it (« M'assigner », « Assigner »), and
its history and next deadlines as staff read them."""

from __future__ import annotations

import pytest

from tests import factories
from tests.browser.test_backoffice_browser import _invitation
from tests.helpers import invitation_case
from workflows.engine import steps
from workflows.engine.engine import Engine
from workflows.formatting import datetime_fr
from workflows.models import Case, Step
from workflows.processes import DEFINITIONS

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


def _sent_then_failing(runtime, ad) -> tuple[int, int]:
    """Two invitations set up without the worker (an engine that publishes nothing): one
    sent (waiting for its password, its timers running), one whose send failed once and
    waits for its next attempt."""
    engine = Engine(runtime.db, runtime.engine.definitions, clock=runtime.engine.clock)
    ids = []
    for _ in range(2):
        coop = factories.CoopFactory(ad=ad)
        person = factories.MandataireFactory(
            coop=coop, email=f"mandataire.{coop.id}@{ad.academic_domains[0]}"
        )
        with engine.transaction() as tx:
            ids.append(invitation_case(tx, person).id)
        claimed = steps.claim(engine, tx.new_steps[0])
        assert claimed is not None
        if len(ids) == 1:
            steps.complete(engine, claimed, steps.Outcome("sent"))
        else:
            steps.fail(engine, claimed, "SMTP injoignable", "Traceback", permanent=False)
    return ids[0], ids[1]


def test_the_history_and_the_deadlines_read_in_french(runtime, live_server, page, ad):
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    expired = _invitation(runtime, ad, "expired")
    sent, failing = _sent_then_failing(runtime, ad)
    _log_in(page, live_server, agent)
    code_names = [
        *(s.name for d in DEFINITIONS.values() for s in d.steps),
        *(t.name for d in DEFINITIONS.values() for t in d.timers),
        "moteur",
        "minuteur",
    ]

    page.goto(f"{live_server}/admin/dossiers/{expired}")
    timeline = page.locator("table.timeline").inner_text().replace("\u00a0", " ")
    assert "Étape « Envoi de l'invitation » (automatique)" in timeline
    assert [c for c in code_names if c in timeline] == []
    assert page.locator(".deadlines").inner_text() == "aucune"
    # The recommended action is a verb, and so are the other buttons.
    assert page.get_by_role("button", name="Renvoyer l'invitation").count() >= 1

    page.goto(f"{live_server}/admin/dossiers/{sent}")
    deadlines = page.locator(".deadlines").inner_text().replace("\u00a0", " ")
    assert deadlines.splitlines() == [
        "Premier rappel : le 10/09/2026 à 09:30",
        "Second rappel : le 13/09/2026 à 09:30",
        "Expiration du lien d'invitation : le 14/09/2026 à 09:30",
    ]
    assert page.get_by_role("button", name="Signaler l'adresse comme refusée").is_visible()

    page.goto(f"{live_server}/admin/dossiers/{failing}")
    with runtime.db.read() as session:
        step = session.get(Case, failing).steps[-1]
        assert isinstance(step, Step)
        when = datetime_fr(step.not_before)
    deadlines = page.locator(".deadlines").inner_text().replace("\u00a0", " ")
    assert deadlines == (
        f"Nouvelle tentative de l'étape « Envoi de l'invitation » : le {when} "
        "(tentative 2 sur 5, dernière erreur : SMTP injoignable)"
    )
