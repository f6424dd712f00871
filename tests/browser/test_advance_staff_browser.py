"""The emergency advance's staff journey in a real browser on a phone (360 px): an agent
who is not an officer opens the request and reads that only the AD's president or
treasurer decide; the treasurer finds it in « Tâches », reads the request (the
supplier's IBAN whole, the amount beside the balance and the cap), opens the quote and
grants it; once the mandataire signed, the agent records the transfer of the advance.

The app runs no worker (the back-office's own app): the contract and the signature,
between the two, are brought by the engine as the step and the portal would."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import factories
from tests.admin.conftest import app  # noqa: F401  (the app without workers)
from tests.admin.test_advance_forms import OFFICERS_ONLY, under_review
from tests.browser.test_accessibility_browser import _check
from tests.browser.test_case_page_browser import _log_in
from tests.browser.test_transfer_staff_browser import _fits, _text
from tests.transfer_helpers import fire, signature
from workflows.engine.engine import Actor
from workflows.models import Case, Mandataire

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def _case(app_, case_id: int) -> Case:
    with app_.extensions["coopflow"].db.read() as session:
        found = session.get(Case, case_id)
        assert found is not None
        return found


def _log_out(page) -> None:
    """Another person at the same browser: the session dropped (the logout button has
    its own tests; the phone menu's animation made clicking it here flaky)."""
    page.context.clear_cookies()


def test_the_treasurer_grants_an_advance_and_an_agent_records_its_transfer(
    app,  # noqa: F811
    live_server,
    page,
    ad,
):
    page.set_viewport_size({"width": 360, "height": 800})
    engine = app.extensions["coopflow"].engine
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    treasurer = factories.StaffFactory(
        ad=ad, full_name="Denis Olivier", email="denis@occe.coop", officer_role="treasurer"
    )
    case = under_review(engine, ad)
    review = f"{live_server}/admin/dossiers/{case.id}/avance/examen"
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    # An agent reads the request, not the decision.
    _log_in(page, live_server, agent)
    page.goto(review)
    assert OFFICERS_ONLY in _text(page, "main")
    assert page.get_by_role("button", name="Accorder").count() == 0
    _log_out(page)

    # The treasurer, from the tasks.
    _log_in(page, live_server, treasurer)
    page.goto(f"{live_server}/admin/taches/")
    page.get_by_role("link", name=f"#{case.id} · Avance d'urgence").click()
    page.get_by_role("link", name="Examiner la demande d'avance").click()
    request = _text(page, ".advance-request")
    assert "PEP 06 Séjours" in request and "FR76 1010 7001 0112 3456 7890 129" in request
    assert "800,00 €" in _text(page, ".advance-amount")
    assert "1 800,00 €" in _text(page, ".advance-declared")
    assert "3 000,00 €" in _text(page, ".advance-cap")
    assert _fits(page)
    _check(page, page.url)  # one h1, main, skip link, every field named
    with page.expect_popup() as quote:
        page.get_by_role("link", name="Ouvrir devis-pep06.pdf").click()
    assert quote.value.url.endswith(
        f"/avance/devis/{_case(app, case.id).data['request']['quote_document_id']}"
    )
    quote.value.close()
    page.get_by_label("Message au mandataire (facultatif, il le lit)").fill(
        "Accordée pour l'acompte du séjour."
    )
    page.get_by_role("button", name="Accorder").click()
    assert "Avance accordée" in _text(page, "main")
    granted = _case(app, case.id)
    assert granted.state == "approved" and granted.data["review"]["by"] == "Denis Olivier"
    _log_out(page)

    # The contract made, the mandataire signs (the step and the portal).
    with app.extensions["coopflow"].db.read() as session:
        mandataire = session.scalars(
            select(Mandataire).where(Mandataire.coop_id == case.coop_id)
        ).one()
    fire(engine, case.id, "contract_ready")
    fire(
        engine,
        case.id,
        "sign",
        actor=Actor.mandataire(mandataire),
        signature=signature(mandataire),
    )

    _log_in(page, live_server, agent)
    page.goto(f"{live_server}/admin/dossiers/{case.id}")
    page.get_by_role("link", name="Faire le virement de l'avance").click()
    assert "FR76 3000 6000 0112 3456 7890 189" in _text(page, ".advance-account")
    assert _fits(page)
    _check(page, page.url)
    page.get_by_label("Virement fait le").fill("2026-09-07")
    page.get_by_label("Référence du virement").fill("AV-2026-0042")
    page.get_by_role("button", name="Enregistrer le virement").click()
    assert "Virement de l'avance enregistré (le 07/09/2026, référence AV-2026-0042)." in _text(
        page, "main"
    )
    paid = _case(app, case.id)
    assert paid.state == "disbursed"
    assert paid.data["disbursement"]["by"] == "Claire Agent"
    assert _fits(page)
    assert problems == []
