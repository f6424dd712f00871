"""A bulk job's page in a real browser: it follows the job by itself while it runs (no
click on « Rafraîchir », no script: the CSP), then stops; its report shows the cases
still stuck, filtered, and downloads as a CSV file."""

from __future__ import annotations

import pytest

from tests import factories
from tests.browser.test_backoffice_browser import _invitation
from tests.browser.test_case_page_browser import _log_in
from workflows.engine import bulk
from workflows.engine.engine import Engine

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def test_the_job_page_follows_the_job_then_reports_the_cases_still_stuck(
    runtime, live_server, page, ad
):
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    expired = [_invitation(runtime, ad, "expired") for _ in range(2)]
    # Confirmed by an engine that hands nothing to the workers: the job waits for us.
    quiet = Engine(runtime.db, runtime.engine.definitions, clock=runtime.engine.clock)
    with quiet.transaction() as tx:
        job = bulk.create(
            tx,
            staff_id=agent.id,
            action="assign",
            params={"assignee_id": agent.id},
            case_ids=expired,
            comment="Répartition de rentrée",
            description="2 dossiers cochés",
        )
        job_id = job.id
    with quiet.transaction() as tx:
        bulk.confirm(tx, job_id, agent.id)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Security Policy" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    loads: list[str] = []
    page.on("load", lambda _: loads.append(page.url))

    _log_in(page, live_server, agent)
    page.goto(f"{live_server}/admin/actions-groupees/{job_id}")
    progress = page.locator(".bulk-progress")
    assert "0 / 2" in progress.inner_text() and "en cours" in progress.inner_text()
    assert "se met à jour toute seule" in progress.inner_text()
    assert page.get_by_role("link", name="Rafraîchir").count() == 0

    bulk.process(runtime.engine, job_id)  # a worker does the job meanwhile
    # Nobody clicks: the page shows the end by itself.
    page.get_by_text("terminée").first.wait_for(timeout=15_000)
    assert "2 / 2" in progress.inner_text()
    settled = len(loads)
    page.wait_for_timeout(4_500)  # more than two periods of the refresh while it ran
    assert len(loads) == settled  # done: it stopped reloading
    assert problems == []

    # Assigned, and still stuck: said, with why; the filter keeps only those.
    report = page.locator("table.bulk-report").inner_text().replace("\u00a0", " ")
    assert report.count("Toujours bloqué") == 2
    assert "Le mandataire n'a pas utilisé son lien d'invitation à temps." in report
    page.get_by_role("link", name="Encore bloqués (2)").click()
    assert page.locator("table.bulk-report tbody tr").count() == 2
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    with open(download.value.path(), encoding="utf-8-sig") as file:
        content = file.read()
    assert download.value.suggested_filename.endswith(".csv")
    assert content.splitlines()[0].startswith("Dossier;Coopérative;")
    assert sorted(line.split(";")[0] for line in content.splitlines()[1:]) == sorted(
        str(c) for c in expired
    )
