"""The staff review of a RIB in a real browser, on a desk (1280 px) and on a phone
(360 px): the stuck list's overdue review, the case, the RIB's file beside what the
mandataire typed (an image, then a PDF in its frame, with the page's policy), a refusal
with a reason the mandataire reads, then, a new RIB handed in, its approval."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urljoin

import pytest
from weasyprint import HTML

from tests import factories
from tests.admin.test_iban_forms import SHOWN_IBAN, png, rib_to_review, submitted
from tests.browser.test_case_page_browser import _log_in
from workflows.engine.engine import Engine
from workflows.engine.scheduling import tick
from workflows.models import BankAccount, Case

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def _case(runtime, case_id: int) -> Case:
    with runtime.db.read() as session:
        return session.get(Case, case_id)


def _text(page, selector: str) -> str:
    """What the reader sees there (a space for French typography's non-breaking one)."""
    return page.inner_text(selector).replace("\u00a0", " ")


def _pdf() -> bytes:
    """A RIB as a bank's site gives it: a real PDF."""
    return HTML(
        string="<h1>Relevé d'identité bancaire</h1><p>IBAN FR76 3000 6000 0112 3456 7890 189</p>"
        "<p>BIC AGRIFRPP</p><p>Titulaire : OCCE Coopérative de l'école</p>"
    ).write_pdf()


def _side_by_side(page) -> bool:
    """Whether the RIB's file is beside the typed fields (left of them, at their height)."""
    shown = page.locator(".rib-file img, .rib-file iframe").first.bounding_box()
    fields = page.locator("dl.rib-fields").bounding_box()
    assert shown and fields
    overlap = min(shown["y"] + shown["height"], fields["y"] + fields["height"]) - max(
        shown["y"], fields["y"]
    )
    return shown["x"] + shown["width"] <= fields["x"] and overlap > 0


def _fits(page) -> bool:
    """No horizontal scrolling: the page is as wide as the screen."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", [1280, 360])
def test_staff_refuse_a_rib_then_approve_the_next_one(runtime, live_server, page, ad, width):
    page.set_viewport_size({"width": width, "height": 900})
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    # Set up by an engine that hands nothing to the workers: the RIB's steps wait.
    quiet = Engine(runtime.db, runtime.engine.definitions, clock=runtime.engine.clock)
    case_id, account_id, mandataire = rib_to_review(quiet, ad, content=png())
    runtime.engine.clock.advance(timedelta(days=2, minutes=1))
    tick(quiet)  # the review task is overdue: the case is stuck, the review recommended
    assert _case(runtime, case_id).stuck_action == "review_rib"
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Security Policy" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    _log_in(page, live_server, agent)
    stuck = page.locator(f'[data-case-id="{case_id}"]')
    stuck.get_by_role("link", name=f"#{case_id}").click()
    assert "Action recommandée : Vérifier le RIB" in _text(page, "#recommandee")
    page.locator("#recommandee").get_by_role("link", name="Vérifier le RIB").click()
    assert page.get_by_role("heading", name="Vérifier le RIB déposé").is_visible()
    image = page.locator(".rib-file img")
    image.wait_for()
    # Loaded (the file is a second request): its real pixels, not a broken image.
    loaded = "(img) => img.complete && img.naturalWidth === 600"
    page.wait_for_function(loaded, arg=image.element_handle(), timeout=10_000)
    assert SHOWN_IBAN in _text(page, "dl.rib-fields")
    assert _side_by_side(page) == (width >= 992) and _fits(page)

    refuse = page.locator("#decision-refuse")
    refuse.get_by_label("RIB illisible").check()
    refuse.get_by_role("button", name="Refuser").click()
    assert "RIB refusé : le mandataire reçoit les motifs" in _text(page, "main")
    assert _case(runtime, case_id).state == "rejected"
    with runtime.db.read() as session:
        assert list(session.get(BankAccount, account_id).errors) == ["document"]

    # The mandataire hands in a new RIB, a PDF this time; the checks ask for a person.
    submitted(quiet, case_id, mandataire, content=_pdf(), content_type="application/pdf")
    page.goto(f"{live_server}/admin/dossiers/{case_id}/verifier-rib")
    frame = page.locator(".rib-file iframe")
    frame.wait_for()
    # The frame's file as the browser gets it (with the staff session): the viewer's own
    # range requests are not what is checked.
    served = page.request.get(urljoin(page.url, frame.get_attribute("src") or ""))
    assert served.status == 200
    assert served.headers["content-type"] == "application/pdf"
    assert _side_by_side(page) == (width >= 992) and _fits(page)
    approve = page.locator("#decision-approve")
    approve.get_by_label("Ce que vous avez vérifié").fill("Titulaire et IBAN conformes au RIB.")
    approve.get_by_role("button", name="Approuver").click()
    assert "RIB approuvé : le compte va être certifié auprès de Swan." in _text(page, "main")
    assert _case(runtime, case_id).state in ("verified", "certified")
    assert "Titulaire et IBAN conformes au RIB." in _text(page, "table.timeline")
    assert problems == []
