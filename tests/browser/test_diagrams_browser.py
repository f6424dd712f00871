"""The process diagrams in a real browser at 1280 px: the case page's across the page's
width, its text never below 12 px as drawn, no label over another label or a state; the
process page's states each lead to their cases; on a phone the picture scrolls within
its frame instead of shrinking its text away."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories
from workflows.engine.engine import Actor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

SYSTEM = Actor.system("test")

#: Each text of the diagram: its size as drawn (its font size × the SVG's scale), and
#: the box of each arrow's label (all its lines) and of each state, in CSS pixels.
_MEASURE = """(svg) => {
  const box = (r) => [r.left, r.top, r.right, r.bottom];
  const union = (rs) => [Math.min(...rs.map(r => r[0])), Math.min(...rs.map(r => r[1])),
                         Math.max(...rs.map(r => r[2])), Math.max(...rs.map(r => r[3]))];
  const scale = svg.getScreenCTM().a;
  const sizes = [...svg.querySelectorAll('text')].map(
    t => parseFloat(t.getAttribute('font-size')) * scale);
  const labels = [...svg.querySelectorAll('g.edge')]
    .map(g => [...g.querySelectorAll('text')].map(t => box(t.getBoundingClientRect())))
    .filter(rs => rs.length).map(union);
  const states = [...svg.querySelectorAll('g.node')].map(g => union(
    [...g.querySelectorAll('path, polygon, ellipse')].map(s => box(s.getBoundingClientRect()))));
  const r = svg.getBoundingClientRect();
  return {sizes, labels, states, width: r.width, left: r.left, right: r.right};
}"""


def _log_in(page: Any, live_server: str, email: str) -> None:
    page.goto(f"{live_server}/admin/connexion")
    page.get_by_label("Adresse email").fill(email)
    page.get_by_label("Mot de passe").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server}/admin/")


def _expired_case(runtime: Any, ad: Any) -> int:
    coop = factories.CoopFactory(ad=ad, name="Coopérative de l'école des Pâquerettes")
    person = factories.MandataireFactory(coop=coop)
    with runtime.engine.transaction() as tx:
        case = tx.start("invitation", coop.id, actor=SYSTEM, data={"mandataire_id": person.id})
        tx.fire(case.id, "invite", actor=SYSTEM)
        tx.fire(case.id, "sent", actor=SYSTEM)
        tx.fire(case.id, "expire", actor=SYSTEM)
        return case.id


def _agent_with_an_expired_case(
    runtime: Any, live_server: str, page: Any, ad: Any, width: int, height: int
) -> int:
    """An expired invitation of ``ad``, and its agent logged in, the window ``width`` ×
    ``height`` pixels: the case's id."""
    agent = factories.StaffFactory(ad=ad, email="claire@occe.coop")
    case_id = _expired_case(runtime, ad)
    page.set_viewport_size({"width": width, "height": height})
    _log_in(page, live_server, agent.email)
    return case_id


def _overlaps(boxes: list[list[float]], others: list[list[float]] | None = None) -> list[str]:
    def meet(a: list[float], b: list[float]) -> bool:
        return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5

    if others is None:
        return [f"{a} / {b}" for i, a in enumerate(boxes) for b in boxes[i + 1 :] if meet(a, b)]
    return [f"{a} / {b}" for a in boxes for b in others if meet(a, b)]


def _check_legible(found: dict[str, Any]) -> None:
    assert found["sizes"] and min(found["sizes"]) >= 12, sorted(found["sizes"])[:3]
    assert len(found["labels"]) >= 5
    assert _overlaps(found["labels"]) == []  # no label over another
    assert _overlaps(found["labels"], found["states"]) == []  # nor over a state


def test_the_case_page_draws_its_process_across_the_page_legibly(runtime, live_server, page, ad):
    case_id = _agent_with_an_expired_case(runtime, live_server, page, ad, 1280, 900)
    page.goto(f"{live_server}/admin/dossiers/{case_id}")

    svg = page.locator("figure.diagram svg.process-diagram")
    assert svg.is_visible()
    found = svg.evaluate(_MEASURE)
    _check_legible(found)
    # The page's full width: the diagram spans the width of the history table below it.
    table = page.locator("table.timeline").bounding_box()
    assert table is not None
    assert found["width"] >= 0.95 * table["width"], (found["width"], table["width"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # The current state is the highlighted one, and the process page is one click away.
    assert "Lien expiré" in (page.locator("svg g.state.current").text_content() or "")
    page.get_by_role("link", name="Les dossiers de ce processus, état par état").click()
    page.wait_for_url(f"{live_server}/admin/processus/invitation")


def test_the_process_page_counts_each_state_and_leads_to_its_cases(runtime, live_server, page, ad):
    case_id = _agent_with_an_expired_case(runtime, live_server, page, ad, 1280, 900)
    page.get_by_role("link", name="Processus").first.click()
    page.get_by_role("link", name="Invitation et mot de passe").click()
    page.wait_for_url(f"{live_server}/admin/processus/invitation")

    svg = page.locator("svg.process-diagram")
    _check_legible(svg.evaluate(_MEASURE))
    state = page.locator("svg g.state", has_text="Lien expiré")
    assert " ".join((state.text_content() or "").split()) == "Lien expiré 1 dossier"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # The state itself is the link to its cases.
    page.get_by_role("link", name="Lien expiré : 1 dossier").click()
    page.wait_for_url(f"{live_server}/admin/dossiers/?etat=invitation.expired")
    rows = page.locator("[data-case-id]")
    assert rows.count() == 1 and rows.first.get_attribute("data-case-id") == str(case_id)


def test_on_a_phone_the_diagram_scrolls_within_its_frame(runtime, live_server, page, ad):
    case_id = _agent_with_an_expired_case(runtime, live_server, page, ad, 360, 780)
    page.goto(f"{live_server}/admin/dossiers/{case_id}")
    figure = page.locator("figure.diagram")
    box = figure.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
    # Its text keeps its size: the picture is wider than its frame, which scrolls.
    assert figure.evaluate("f => f.scrollWidth > f.clientWidth")
    assert min(figure.locator("svg").evaluate(_MEASURE)["sizes"]) >= 12
