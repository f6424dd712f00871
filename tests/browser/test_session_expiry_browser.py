"""« Let the session expire and submit a comment », in Chromium: the back-office's own
login page (not the portal's), then the case page again with the comment still typed in
its box, sent once. The same when the browser lost its session cookie altogether."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from tests import factories
from web.kept_forms import SESSION_ENDED_KEPT, TEXT_KEPT
from workflows.engine.engine import Actor
from workflows.models import CaseEvent

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

#: Minutes before an idle staff session ends, here: three seconds.
IDLE_MINUTES = 0.05
COMMENT = "L'école rappelle jeudi\u00a0: le directeur change en janvier, « à suivre »."


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.with_overrides(staff_idle_minutes=IDLE_MINUTES)


@pytest.fixture
def case_id(runtime, ad) -> int:  # type: ignore[no-untyped-def]
    coop = factories.CoopFactory(ad=ad)
    person = factories.MandataireFactory(coop=coop, email=f"mandataire.{coop.id}@ac-nice.fr")
    with runtime.engine.transaction() as tx:
        case = tx.start(
            "invitation", coop.id, actor=Actor.system("test"), data={"mandataire_id": person.id}
        )
        return case.id


def _log_in(page, agent) -> None:  # type: ignore[no-untyped-def]
    assert page.locator("h4, h1").first.inner_text() == "Connexion de l'équipe OCCE"
    assert "Espace coopérative" not in page.content()
    page.fill("input[name=email]", agent.email)
    page.fill("input[name=password]", factories.STAFF_PASSWORD)
    page.click("button[type=submit]:has-text('Se connecter')")


def _comments(runtime, case_id: int) -> int:  # type: ignore[no-untyped-def]
    with runtime.db.read() as session:
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id))
        return sum(1 for e in events if e.comment == COMMENT)


@pytest.mark.parametrize("how", ["idle", "cookie_lost"])
def test_a_comment_typed_when_the_session_ended_is_not_lost(
    runtime, live_server, page, ad, case_id, how
):
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    case_page = f"{live_server}/admin/dossiers/{case_id}"
    page.goto(f"{live_server}/admin/connexion")
    _log_in(page, agent)
    page.goto(case_page)
    box = page.locator("#action-comment textarea[name=comment-text]")
    box.fill(COMMENT)
    if how == "idle":
        time.sleep(IDLE_MINUTES * 60 + 1)  # away from the keyboard
    else:
        page.context.clear_cookies()  # the browser was restarted, the cookie is gone
    page.locator("#action-comment button[type=submit]").click()

    # The back-office's login, saying why; never « Erreur 400 » nor the portal's page.
    page.wait_for_url(re.compile(r"/admin/connexion\?next="))
    assert SESSION_ENDED_KEPT in page.inner_text("body")
    assert "Erreur" not in page.inner_text("body")
    _log_in(page, agent)

    # Back on the case page (a GET: no 405), the comment still typed in its box.
    page.wait_for_url(case_page)
    assert TEXT_KEPT in page.inner_text("body")
    assert box.input_value() == COMMENT
    assert _comments(runtime, case_id) == 0
    page.locator("#action-comment button[type=submit]").click()
    page.wait_for_url(case_page)
    assert "Commentaire ajouté à l'historique." in page.inner_text("body")
    assert _comments(runtime, case_id) == 1
