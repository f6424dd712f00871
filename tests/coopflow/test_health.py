"""``/healthz`` (can this process reach its servers) and ``/readyz`` (should it get
traffic: database, schema at the Alembic head, broker, embedded worker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from coopflow.app import create_app
from coopflow.config import Settings
from coopflow.runtime import Runtime, build_runtime

BROKEN_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def make_app() -> Iterator:  # type: ignore[type-arg]
    """An app over settings of the test's choosing; its runtime stopped afterwards."""
    runtimes: list[Runtime] = []

    def make(settings: Settings, *, worker: bool = True) -> Flask:
        rt = build_runtime(settings)
        runtimes.append(rt)
        if worker:
            rt.start_worker(threads=1)
        return create_app(runtime=rt)

    yield make
    for rt in runtimes:
        rt.stop()


def test_healthz_and_readyz_answer_ok_when_everything_is_there(client, settings):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    expected = {"database": "ok", "schema": "ok", "broker": "ok"}
    if settings.embedded_broker:
        expected["worker"] = "ok"
    assert ready.json == {"status": "ok", "checks": expected}


def test_an_unmigrated_database_is_alive_but_not_ready(make_app, tmp_path: Path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}", secret_key="k" * 32)
    client = make_app(settings).test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json["checks"]
    assert checks["database"] == "ok" and checks["broker"] == checks["worker"] == "ok"
    assert checks["schema"].startswith("erreur : schéma vide, attendu ")
    assert "coopflow db upgrade" in checks["schema"]


def test_an_unreachable_redis_fails_both(make_app, settings):
    app = make_app(settings.with_overrides(broker_url=BROKEN_REDIS), worker=False)
    client = app.test_client()
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.json["status"] == "erreur"
        assert response.json["checks"]["broker"] == "erreur : ConnectionError"
        assert response.json["checks"]["database"] == "ok"
        assert "127.0.0.1:1" not in response.get_data(as_text=True)


def test_an_unreachable_database_fails_both(make_app, settings):
    unreachable = "postgresql+psycopg://coopflow@127.0.0.1:1/coopflow"
    client = make_app(settings.with_overrides(database_url=unreachable), worker=False).test_client()
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.json["checks"]["database"] == "erreur : OperationalError"
        assert "schema" not in response.json["checks"]


def test_embedded_mode_is_not_ready_without_its_worker(make_app, settings):
    if not settings.embedded_broker:
        pytest.skip("the embedded mode only: a web process of the distributed mode has none")
    client = make_app(settings, worker=False).test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"]["worker"] == "erreur : les workers intégrés ne tournent pas"
