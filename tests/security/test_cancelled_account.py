"""A cancelled mandataire loses their access: staff's « Annuler » ends every session of
the account, makes every link sent to it unusable, and the login refuses it with the
answer a wrong password gets. Also: the login answers the same for an account not yet
configured (no telling which addresses were invited)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.helpers import csrf_token
from tests.security.conftest import issue_link
from tests.web.conftest import PortalCoop, log_in_mandataire, settle, text
from tests.workers.steps.test_invitation import Services
from web.auth import RESET_PURPOSE
from web.login import BAD_CREDENTIALS
from workers.runner import run_step
from workflows.engine.engine import Actor
from workflows.models import Case, Mandataire, Step
from workflows.password_hashing import hash_password

PASSWORD = "Choisi*Secret-7315"


def _login(client, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    token = csrf_token(text(client.get("/connexion")))
    return client.post(
        "/connexion", data={"csrf_token": token, "email": email, "password": password}
    )


def _account(runtime, make_coop) -> PortalCoop:  # type: ignore[no-untyped-def]
    """A mandataire who chose a real password and has not logged in yet (the invitation
    ends, ``active``, at the first login: until then staff may cancel it)."""
    coop = make_coop("invited")
    with runtime.db.write() as session:
        person = session.get(Mandataire, coop.mandataire_id)
        person.password_hash = hash_password(PASSWORD)
        me = Actor.mandataire(person)
    with runtime.engine.transaction() as tx:
        tx.fire(coop.invitation_id, "set_password", actor=me)
    settle(runtime)
    return coop


def _cancel(runtime, staff, case_id: int) -> None:
    with runtime.engine.transaction() as tx:
        tx.fire(case_id, "cancel", actor=Actor.staff(staff), comment="n'est plus mandataire")
    settle(runtime)


def test_cancelling_ends_the_sessions_the_links_and_the_login(app, runtime, make_coop, staff):
    coop = _account(runtime, make_coop)
    browser = app.test_client()
    log_in_mandataire(app, browser, coop.mandataire_id)  # the login would end the invitation
    assert browser.get("/mon-espace").status_code == 200
    invitation = issue_link(runtime, coop, "invitation", timedelta(days=7))
    reset = issue_link(runtime, coop, RESET_PURPOSE, timedelta(hours=1))

    _cancel(runtime, staff, coop.invitation_id)

    # The open session ends at its next request: the login page, not the space.
    answer = browser.get("/mon-espace")
    assert answer.status_code == 302 and "/connexion" in answer.headers["Location"]
    # The right password no longer opens it, and the answer is a wrong password's.
    refused = _login(app.test_client(), coop.email)
    assert refused.status_code == 401 and BAD_CREDENTIALS in text(refused)
    # Every link sent to the account stopped working.
    visitor = app.test_client()
    for path in (f"/invitation/{invitation}", f"/mot-de-passe-perdu/{reset}"):
        page = visitor.get(path)
        assert page.status_code != 200 and 'name="password"' not in text(page), path
    with runtime.db.read() as session:
        person = session.get(Mandataire, coop.mandataire_id)
        assert person.cancelled_at is not None and person.session_version == 1


def test_the_end_of_access_step_delivered_twice_ends_it_once(settings, engine, ad, publisher):
    person = factories.MandataireFactory(coop__ad=ad, password_hash=hash_password(PASSWORD))
    system, staff_actor = Actor.system("test"), Actor("staff", 1, "Claire Agent")
    with engine.transaction() as tx:
        case = tx.start(
            "invitation", person.coop_id, actor=system, data={"mandataire_id": person.id}
        )
        tx.fire(case.id, "cancel", actor=staff_actor)
    with engine.db.read() as session:
        step = session.scalars(
            select(Step).where(Step.case_id == case.id, Step.name == "end_access")
        ).one()
        step_id = step.id
    services = Services(settings, engine, None)
    run_step(services, step_id)
    run_step(services, step_id)  # the broker delivered the message again
    with engine.db.read() as session:
        person_now = session.get(Mandataire, person.id)
        assert person_now.cancelled_at is not None and person_now.session_version == 1
        assert session.get(Case, case.id).state == "cancelled"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_login_tells_nothing_of_an_account_not_configured_yet(app, runtime, make_coop):
    invited = make_coop("invited")
    with runtime.db.write() as session:
        session.get(Mandataire, invited.mandataire_id).password_hash = None
    configured = _login(app.test_client(), invited.email, "Mauvais*2026")
    unknown = _login(app.test_client(), "personne@ac-nice.fr", "Mauvais*2026")
    assert configured.status_code == unknown.status_code == 401
    for page in (text(configured), text(unknown)):
        assert BAD_CREDENTIALS in page
        assert "pas encore configuré" not in page
