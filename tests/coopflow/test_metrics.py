"""``/metrics``: the figures of the database for Prometheus, behind a bearer token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from coopflow.config import Settings
from tests.conftest import T0
from tests.factories import CoopFactory, MandataireFactory
from tests.helpers import invitation_case
from workflows.models import Case, Step

TOKEN = "scrape-token-of-the-test"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(metrics_token=TOKEN)


def scrape(client, token: str = TOKEN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_count_cases_stuck_cases_and_steps(client, runtime, ad):
    coop = CoopFactory(ad=ad)

    def case(process: str, state: str, stuck: str | None = None) -> Case:
        return Case(process=process, coop_id=coop.id, ad_id=ad.id, state=state, stuck_reason=stuck)

    with runtime.db.write() as session:
        cases = [
            case("invitation", "invited"),
            case("invitation", "invited"),
            case("invitation", "expired", stuck="deadline_passed"),
            case("space_check", "checking", stuck="step_failed"),
        ]
        session.add_all(cases)
        session.flush()

        def step(n: int, status: str, not_before) -> Step:  # type: ignore[no-untyped-def]
            return Step(
                case_id=cases[0].id,
                name="send_invitation",
                status=status,
                idempotency_key=f"metrics-{n}",
                not_before=not_before,
            )

        session.add_all(
            [
                step(1, "pending", T0 - timedelta(seconds=90)),  # due, nobody took it
                step(2, "pending", T0 + timedelta(hours=1)),  # a retry, later: not waiting
                step(3, "done", T0 - timedelta(hours=1)),
                step(4, "failed", T0 - timedelta(hours=1)),
            ]
        )

    samples = scrape(client)
    cases_ = {k[1]: v for k, v in samples.items() if k[0] == "coopflow_cases"}
    assert cases_ == {
        (("process", "invitation"), ("state", "invited")): 2,
        (("process", "invitation"), ("state", "expired")): 1,
        (("process", "space_check"), ("state", "checking")): 1,
    }
    stuck = {k[1]: v for k, v in samples.items() if k[0] == "coopflow_cases_stuck"}
    assert stuck == {(("reason", "deadline_passed"),): 1, (("reason", "step_failed"),): 1}
    steps = {dict(k[1])["status"]: v for k, v in samples.items() if k[0] == "coopflow_steps"}
    assert steps == {"pending": 2, "running": 0, "done": 1, "failed": 1, "cancelled": 0}
    # the clock of the test runs on from T0
    assert samples[("coopflow_oldest_pending_step_age_seconds", ())] == pytest.approx(90, abs=5)


def test_step_durations_of_the_in_process_workers_are_exposed(client, runtime, ad):
    def sent() -> float:
        key = (
            "coopflow_step_duration_seconds_count",
            (("outcome", "done"), ("process", "invitation"), ("step", "send_invitation")),
        )
        return scrape(client).get(key, 0.0)

    before = sent()
    mandataire = MandataireFactory(coop__ad=ad)
    with runtime.engine.transaction() as tx:
        invitation_case(tx, mandataire)
    runtime.join()
    assert sent() == before + 1
    assert scrape(client)[("coopflow_oldest_pending_step_age_seconds", ())] == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ],
)
def test_metrics_need_the_token(client, headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "coopflow_cases" not in response.get_data(as_text=True)


def test_metrics_do_not_exist_without_a_configured_token(app, client, runtime):
    runtime.settings = runtime.settings.with_overrides(metrics_token=None)
    response = client.get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 404
