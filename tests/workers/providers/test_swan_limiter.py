"""Swan's budget of 2,000 requests per 5 minutes: kept in Redis for every worker process
(two clients, as two workers, share it), in memory for the embedded mode; a used-up
budget postpones the step without Swan seeing the request."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis

from tests.fakes.swan_server import FakeSwan
from tests.services import REDIS_URL, require_redis
from workers.providers.swan.client import GraphQLSwan
from workers.providers.swan.errors import SwanRejected, SwanUnavailable
from workers.providers.swan.limiter import LocalBudget, RedisBudget, make_budget
from workflows.engine.errors import StepPostponed


class Clock:
    """Wall-clock seconds the test moves (the budget's time source)."""

    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_key() -> Iterator[str]:
    """A window of its own, removed afterwards (the Redis database is shared)."""
    require_redis()
    key = f"coopflow:test:swan:{uuid.uuid4().hex}"
    yield key
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(key)
    client.close()


def test_the_2001st_request_in_five_minutes_waits_in_memory():
    clock = Clock()
    budget = LocalBudget(clock=clock)
    assert [budget.take() for _ in range(2000)] == [0.0] * 2000
    clock.now += 120
    assert budget.take() == pytest.approx(180)  # until the first 2,000 leave the window
    clock.now += 180
    assert budget.take() == 0.0


def test_the_window_slides_rather_than_resets():
    clock = Clock()
    budget = LocalBudget(limit=4, period_seconds=300, clock=clock)
    budget.take(), budget.take()
    clock.now += 200
    budget.take(), budget.take()
    assert budget.take() == pytest.approx(100)  # the first two leave at 300 s
    clock.now += 100
    assert [budget.take(), budget.take(), budget.take()] == [0.0, 0.0, pytest.approx(200)]


@pytest.mark.redis
def test_the_2001st_request_waits_whichever_worker_sends_it(redis_key: str):
    clock = Clock()
    worker_a = RedisBudget(REDIS_URL, key=redis_key, clock=clock)
    worker_b = RedisBudget(REDIS_URL, key=redis_key, clock=clock)
    assert all(worker_a.take() == 0.0 for _ in range(1000))
    clock.now += 60
    assert all(worker_b.take() == 0.0 for _ in range(1000))
    assert worker_a.take() == pytest.approx(240)
    assert worker_b.take() == pytest.approx(240)
    clock.now += 240
    assert worker_b.take() == 0.0  # the first thousand left; the second is still in
    assert worker_a.take() == 0.0


@pytest.mark.redis
def test_threads_racing_for_the_last_units_get_exactly_the_limit(redis_key: str):
    budget = RedisBudget(REDIS_URL, limit=50, key=redis_key, clock=Clock())
    granted: list[bool] = []

    def take(n: int) -> None:
        for _ in range(n):
            granted.append(budget.take() == 0.0)

    threads = [threading.Thread(target=take, args=(10,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 50 and len(granted) == 80


@pytest.mark.redis
def test_two_clients_sharing_redis_postpone_the_request_past_the_budget(redis_key: str):
    clock = Clock()
    with FakeSwan(accounts=("acc_coop_1",)) as swan:
        workers = [
            GraphQLSwan(
                **swan.client_settings(),
                timeout=2,
                budget=RedisBudget(
                    REDIS_URL, limit=3, period_seconds=300, key=redis_key, clock=clock
                ),
            )
            for _ in range(2)
        ]
        for client in (workers[0], workers[1], workers[0]):
            with pytest.raises(SwanRejected, match="introuvable"):
                client.membership("mbr_1")
        clock.now += 10
        for client in workers:
            with pytest.raises(StepPostponed) as postponed:
                client.membership("mbr_1")
            assert postponed.value.delay == timedelta(seconds=290)
            assert "nouvel essai dans 290 s" in str(postponed.value)
        assert len(swan.graphql_requests()) == 3  # Swan never saw the postponed ones
        clock.now += 290
        with pytest.raises(SwanRejected, match="introuvable"):
            workers[1].membership("mbr_1")
        assert len(swan.graphql_requests()) == 4


def test_make_budget_follows_the_deployment():
    assert isinstance(make_budget(None), LocalBudget)
    assert isinstance(make_budget("stub://"), LocalBudget)
    shared = make_budget("redis://127.0.0.1:6379/3", limit=10, period_seconds=60)
    assert isinstance(shared, RedisBudget)
    assert (shared.limit, shared.period_seconds) == (10, 60)
    with pytest.raises(ValueError, match="non reconnue"):
        make_budget("memory://")


def test_redis_out_of_reach_is_transient_not_a_free_pass():
    budget = RedisBudget("redis://127.0.0.1:1/0")  # nothing listens on port 1
    with pytest.raises(SwanUnavailable, match="Redis"):
        budget.take()
