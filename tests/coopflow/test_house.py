"""The registries of every layer, checked against each other at start, and a new
process added through exactly the places ``docs/architecture.md`` lists."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from admin.processes import PROCESS_ACTIONS
from coopflow import house
from coopflow.app import create_app
from coopflow.house import House
from coopflow.runtime import build_runtime
from tests import factories
from tests.coopflow.house_example import definition as example_definition
from tests.coopflow.house_example import portal as example_portal
from tests.coopflow.house_example import staff as example_staff
from tests.coopflow.house_example import steps as example_steps
from tests.helpers import invitation_case
from tests.web.conftest import checklist_line, log_in_mandataire, settle, text
from web.portal import PROCESS_PAGES
from workers.steps import PROCESS_STEPS
from workflows.engine.engine import Actor
from workflows.engine.errors import DefinitionError
from workflows.models import Case
from workflows.processes import DEFINITIONS

SYSTEM = Actor.system("test")


def endpoints(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}


def test_the_registries_of_every_layer_agree(app):
    assert house.problems(House.of(), endpoints(app)) == []


def test_a_step_without_handler_stops_the_start_naming_it(monkeypatch):
    invitation = PROCESS_STEPS["invitation"]
    monkeypatch.setattr(
        invitation, "STEPS", {k: v for k, v in invitation.STEPS.items() if k != "send_reminder"}
    )
    with pytest.raises(DefinitionError) as refused:
        house.check()
    assert "invitation : l'étape « send_reminder » n'a pas de gestionnaire" in str(refused.value)
    assert "workers/steps/invitation.py" in str(refused.value)


def test_a_state_where_the_mandataire_acts_needs_a_portal_page(monkeypatch, app):
    monkeypatch.setattr(PROCESS_PAGES["space_check"], "PAGES", {})
    found = house.problems(House.of(), endpoints(app))
    assert found == [
        "space_check : l'état « to_check » (« Vérifier mon espace ») n'a pas de page au "
        "portail (PAGES de web.portal.space_check)."
    ]
    monkeypatch.setattr(PROCESS_PAGES["space_check"], "PAGES", {"to_check": "portal.nulle_part"})
    assert "« portal.nulle_part »" in house.problems(House.of(), endpoints(app))[0]


def test_a_recommended_action_must_be_a_trigger_or_a_declared_staff_action(monkeypatch):
    monkeypatch.setattr(PROCESS_ACTIONS["invitation"], "ACTIONS", {})
    found = house.problems(House.of())
    assert len(found) == 1 and "l'action recommandée « fix_email »" in found[0]


def test_every_email_and_document_needs_its_templates(tmp_path: Path):
    templates = tmp_path / "templates"
    shutil.copytree(House.of().templates, templates)
    (templates / "emails" / "invitation" / "reminder.html").unlink()
    (templates / "documents" / "space_check" / "space_summary.html").unlink()
    found = house.problems(replace(House.of(), templates=templates))
    assert found == [
        "invitation : l'email « reminder » n'a pas de gabarit "
        "(workers/templates/emails/invitation/reminder.html).",
        "space_check : le document « space_summary » n'a pas de gabarit "
        "(workers/templates/documents/space_check/space_summary.html).",
    ]


def test_a_registry_naming_no_process_is_refused(monkeypatch):
    monkeypatch.setitem(PROCESS_PAGES, "no_such_process", example_portal)
    assert house.problems(House.of()) == [
        "web/portal enregistre « no_such_process », qui n'est pas un processus."
    ]


def test_the_worker_and_the_app_refuse_to_start_on_a_missing_piece(monkeypatch, settings):
    """A definition registered without its steps module: the runtime (every process:
    web, worker, scheduler, command) does not start."""
    monkeypatch.setitem(DEFINITIONS, "example", example_definition.DEFINITION)
    with pytest.raises(DefinitionError, match="example : l'étape « prepare »"):
        build_runtime(settings)


@pytest.fixture
def example_registered(monkeypatch):
    """The example process, one line in each registry (as docs/architecture.md says)."""
    monkeypatch.setitem(DEFINITIONS, "example", example_definition.DEFINITION)
    monkeypatch.setitem(PROCESS_STEPS, "example", example_steps)
    monkeypatch.setitem(PROCESS_PAGES, "example", example_portal)
    monkeypatch.setitem(PROCESS_ACTIONS, "example", example_staff)
    example_steps.RAN.clear()


def test_an_example_process_added_in_its_places_runs_its_journey(
    example_registered, settings, smtp_server, clock, ad
):
    rt = build_runtime(settings.with_overrides(smtp_url=smtp_server.url), clock=clock)
    rt.start_worker(threads=2)
    try:
        app = create_app(runtime=rt)  # checks the registries, pages included
        coop = factories.CoopFactory(ad=ad)
        person = factories.MandataireFactory(
            coop=coop,
            email=f"mandataire.{coop.id}@{ad.academic_domains[0]}",
            password_hash="argon2-hash-of-the-tests",
        )
        client = app.test_client()
        log_in_mandataire(app, client, person.id)
        waiting = checklist_line(text(client.get("/mon-espace")), "example")
        assert "Disponible dès votre première connexion." in waiting

        with rt.engine.transaction() as tx:
            # « first_login » meets the example's prerequisite: its case starts.
            journey = ("invite", "sent", "set_password", "first_login")
            invitation_case(tx, person, *journey, actor=SYSTEM, trigger=None)
        settle(rt)
        with rt.db.read() as session:
            example = session.scalars(
                select(Case).where(Case.coop_id == coop.id, Case.process == "example")
            ).one()
        assert example.state == "to_sign" and len(example_steps.RAN) == 1

        home = text(client.get("/mon-espace"))
        line = checklist_line(home, "example")
        assert "À signer par le mandataire" in line and "Signer le document" in line
        assert 'href="/mon-espace/exemple"' in home
        page = text(client.get("/mon-espace/exemple"))
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        signed = client.post("/mon-espace/exemple/signer", data={"csrf_token": token.group(1)})
        assert signed.status_code == 302
        with rt.db.read() as session:
            assert session.get(Case, example.id).state == "signed"
        assert "Terminé" in checklist_line(text(client.get("/mon-espace")), "example")
    finally:
        rt.stop()


def test_the_example_without_its_portal_module_does_not_start(example_registered, monkeypatch):
    monkeypatch.delitem(PROCESS_PAGES, "example")
    with pytest.raises(DefinitionError, match="example : le mandataire agit à l'état « to_sign »"):
        house.check()
