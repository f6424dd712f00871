"""A support morning in a real browser: log in, filter the stuck list, open a case,
retry its failed step, resend every expired invitation of the AD in bulk, read the
audit trail; and an AD06 agent cannot open an AD50 case by its URL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import factories
from workflows.engine import steps
from workflows.engine.engine import Actor, Engine
from workflows.models import AD, Case, CaseEvent

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

SYSTEM = Actor.system("test")


def _invitation(runtime, ad: AD, state: str) -> int:
    """An invitation case brought to ``expired`` or ``failed`` without the worker: an
    engine with no publisher queues the send step but never hands it over."""
    engine = Engine(runtime.db, runtime.engine.definitions, clock=runtime.engine.clock)
    coop = factories.CoopFactory(ad=ad)
    person = factories.MandataireFactory(
        coop=coop, email=f"mandataire.{coop.id}@{ad.academic_domains[0]}"
    )
    with engine.transaction() as tx:
        case = tx.start(
            "invitation", coop.id, actor=SYSTEM, data={"mandataire_id": person.id}, trigger="invite"
        )
        case_id = case.id
    step_id = tx.new_steps[0]  # known once the transaction is written
    claimed = steps.claim(engine, step_id)
    assert claimed is not None
    if state == "failed":
        steps.fail(engine, claimed, "SMTP injoignable", "Traceback: boom", permanent=True)
    else:
        steps.complete(engine, claimed, steps.Outcome("sent"))
        with engine.transaction() as tx:
            tx.fire(case_id, "expire", actor=SYSTEM)
    return case_id


def _state(runtime, case_id: int) -> str:
    with runtime.db.read() as session:
        return session.get(Case, case_id).state


def test_support_unblocks_cases_in_the_browser(runtime, live_server, page, smtp_server, ad):
    ad50 = factories.ADFactory(code="AD50", academic_domains=["ac-normandie.fr"])
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    failed = _invitation(runtime, ad, "failed")
    expired = [_invitation(runtime, ad, "expired") for _ in range(2)]
    elsewhere = _invitation(runtime, ad50, "expired")

    page.goto(f"{live_server}/admin/")
    page.get_by_label("Adresse email").fill(agent.email)
    page.get_by_label("Mot de passe").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    assert page.get_by_role("heading", name="Cas bloqués").is_visible()
    assert page.locator("tr[data-case-id]").count() == 3  # AD06's only

    # Filter by reason: the failed step.
    page.get_by_label("Motif de blocage").select_option(label="Étape en échec")
    page.get_by_role("button", name="Filtrer").click()
    rows = page.locator("tr[data-case-id]")
    assert rows.count() == 1 and rows.first.get_attribute("data-case-id") == str(failed)

    # Its recommended action, one click away, then a comment: the step runs again.
    rows.first.get_by_role("link", name="Relancer l'étape").click()
    assert "SMTP injoignable" in page.inner_text("#recommandee")
    page.locator("#recommandee textarea").fill("Le serveur de messagerie est rétabli.")
    page.locator("#recommandee").get_by_role("button").click()
    assert "est relancée" in page.inner_text("body")
    runtime.join()
    assert _state(runtime, failed) == "invited"
    assert len(smtp_server.messages) == 1

    # A bulk resend over the whole filter « expired invitations » of AD06.
    page.goto(f"{live_server}/admin/?motif=invitation_expired")
    assert page.locator("tr[data-case-id]").count() == 2
    form = page.locator("#bulk-form")
    form.locator("select[name=action]").select_option(value="fire:resend")
    form.locator("textarea[name=comment]").fill("Relance de rentrée")
    form.get_by_role("button", name="Appliquer à tout le filtre").click()
    assert re.search(r"\b2 dossiers\b", page.inner_text("body"))
    page.get_by_role("button", name="Confirmer").click()
    # A locator, not ``wait_for_function``: the page's CSP forbids the latter's eval.
    page.get_by_text("terminée").first.wait_for(timeout=30_000)
    runtime.join()
    assert [_state(runtime, c) for c in expired] == ["invited", "invited"]
    assert _state(runtime, elsewhere) == "expired"  # never selected, never touched
    assert page.locator("text=fait").count() >= 2

    # The audit trail of one of them says who did it and why.
    page.goto(f"{live_server}/admin/dossiers/{expired[0]}")
    timeline = page.locator("table.timeline").inner_text()
    assert "Claire Agent (équipe)" in timeline and "Relance de rentrée" in timeline
    with runtime.db.read() as session:
        last = session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == expired[0], CaseEvent.trigger == "resend")
            .order_by(CaseEvent.id.desc())
        ).first()
        assert last is not None and last.actor.startswith(f"staff:{agent.id} ")

    # An AD50 case by its URL: not found, and nothing of it shown.
    response = page.goto(f"{live_server}/admin/dossiers/{elsewhere}")
    assert response is not None and response.status == 404
