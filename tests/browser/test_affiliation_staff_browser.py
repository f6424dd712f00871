"""The staff validation of an affiliation in a real browser, on a phone (360 px) and a
desk (1280 px): an AD's agent opens the case, loads the bank statement that pays it from
the menu, reads the report, then on « Valider les pièces » sees the payment checked by
them, ticks the signed commitment, and the affiliation is validated."""

from __future__ import annotations

import pytest

from tests import factories
from tests.browser.test_case_page_browser import _log_in
from tests.helpers import active_account
from tests.workflows.processes.affiliation.staff_cases import draft_of, read_case, submit
from workflows.engine.engine import Actor, Engine
from workflows.models import Case

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def _case(runtime, case_id: int) -> Case:
    with runtime.db.read() as session:
        return session.get(Case, case_id)


def _text(page, selector: str) -> str:
    return page.inner_text(selector).replace("\u00a0", " ").replace("\u202f", " ")


def _fits(page) -> bool:
    """No horizontal scrolling: the page is as wide as the screen."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", [360, 1280])
def test_an_agent_loads_the_statement_and_validates_the_affiliation(
    runtime, live_server, page, ad, width
):
    page.set_viewport_size({"width": width, "height": 800})
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    # Set up by an engine that hands nothing to the workers: no commitment is rendered.
    quiet = Engine(runtime.db, runtime.engine.definitions, clock=runtime.engine.clock)
    person = active_account(quiet, ad)
    case_id = draft_of(quiet, person.coop_id)
    submit(quiet, case_id, person)
    with quiet.transaction() as tx:
        tx.fire(case_id, "to_validation", actor=Actor.system("rendu de l'engagement"))
    number = read_case(quiet, case_id).coop.affiliation_number
    statement = (
        "Compte courant OCCE 06;;;\r\n"
        "Date;Libellé;Débit;Crédit\r\n"
        f"05/09/2026;VIR SEPA COOPERATIVE ADH-2026-{number};;136,99\r\n"
        "05/09/2026;PRLV ASSURANCE;54,20;\r\n"
        "06/09/2026;VIR DON PARENTS;;50,00\r\n"
    ).encode("cp1252")
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    _log_in(page, live_server, agent)
    page.goto(f"{live_server}/admin/dossiers/{case_id}")
    assert page.get_by_role("link", name="Valider les pièces de l'adhésion").is_visible()

    if width < 992:
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="Relevé bancaire").click()
    page.get_by_label("Relevé bancaire (CSV exporté de la banque)").set_input_files(
        {"name": "releve-septembre.csv", "mimeType": "text/csv", "buffer": statement}
    )
    page.get_by_role("button", name="Charger le relevé").click()
    counts = _text(page, ".statement-counts")
    assert "1 paiement validé" in counts and "1 ligne non rapprochée" in counts
    assert "1 débit ignoré" in counts
    report = _text(page, "table.statement-lines")
    assert "Paiement validé" in report and "Sans référence d'adhésion" in report
    assert _fits(page)

    page.locator("table.statement-lines").get_by_role("link", name=f"n° {case_id}").click()
    page.get_by_role("link", name="Valider les pièces de l'adhésion").click()
    payment = _text(page, "#item-payment")
    assert "Validé par Claire Agent" in payment and "(relevé bancaire)" in payment
    assert "136,99 € reçus le 05/09/2026" in payment
    assert _fits(page)
    commitment = page.locator("#decision-commitment")
    commitment.get_by_label("J'ai reçu l'engagement du mandataire, signé").check()
    commitment.get_by_label("Note (facultatif)").fill("Reçu par courrier le 06/09.")
    commitment.get_by_role("button", name="Enregistrer l'engagement reçu").click()
    assert "Adhésion validée" in _text(page, "main")
    assert _case(runtime, case_id).state == "validated"
    timeline = _text(page, "table.timeline")
    assert "Engagement signé reçu" in timeline and "Reçu par courrier le 06/09." in timeline
    assert problems == []
