"""Login limits: per client address (behind the platform's router, the client's own,
read through ProxyFix from the number of proxies configured), per account whatever the
addresses, and shared by every web process (Redis) in the distributed mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from coopflow.app import create_app
from coopflow.config import ConfigurationError, load_settings
from coopflow.runtime import build_runtime
from tests import factories
from tests.helpers import csrf_token
from tests.services import REDIS_URL, require_redis
from tests.web.conftest import text
from web import TOO_MANY_LOGINS
from web.extensions import LOGIN_LIMIT_PER_ACCOUNT

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
WRONG = "Mauvais*2026"
KEY = "k" * 32
#: How many failed attempts at one account pass in a minute.
PER_ACCOUNT = int(LOGIN_LIMIT_PER_ACCOUNT.split()[0])


def _attempt(client, path: str, email: str, password: str = WRONG, **environ):  # type: ignore[no-untyped-def]
    token = csrf_token(text(client.get(path, environ_base=environ)))
    return client.post(
        path,
        data={"csrf_token": token, "email": email, "password": password},
        environ_base=environ,
    )


def _app(settings, **changes) -> Flask:  # type: ignore[no-untyped-def]
    flask_app = create_app(runtime=build_runtime(settings.with_overrides(**changes)))
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def proxied(settings) -> Iterator[Flask]:
    """Behind one router: the client is the last address it adds to X-Forwarded-For."""
    flask_app = _app(settings, trusted_proxies=1)
    yield flask_app
    flask_app.extensions["coopflow"].stop()


@sqlite_only
@pytest.mark.parametrize("path", ["/connexion", "/admin/connexion"])
def test_one_account_is_limited_whatever_the_addresses(app, ad, path):
    staff = factories.StaffFactory(ad=ad, email="claire@occe.coop")
    email = staff.email if path.startswith("/admin") else "eloise.martin@ac-nice.fr"
    client = app.test_client()
    statuses = [
        _attempt(client, path, email, REMOTE_ADDR=f"192.0.2.{n}").status_code
        for n in range(PER_ACCOUNT)
    ]
    assert statuses == [401] * PER_ACCOUNT
    # The next attempt at that account, from yet another address: refused, in French.
    refused = _attempt(client, path, email.upper(), REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 429 and TOO_MANY_LOGINS in text(refused)
    if path.startswith("/admin"):  # even with the right password, until it calms down
        right = _attempt(client, path, email, factories.STAFF_PASSWORD, REMOTE_ADDR="192.0.2.99")
        assert right.status_code == 429
    # Another account from the same address is not held up.
    other = _attempt(client, path, "autre@occe.coop", REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 401


@sqlite_only
def test_a_successful_login_does_not_count_against_the_account(app, ad):
    staff = factories.StaffFactory(ad=ad, email="claire@occe.coop")
    for _ in range(PER_ACCOUNT + 1):
        client = app.test_client()
        answer = _attempt(client, "/admin/connexion", staff.email, factories.STAFF_PASSWORD)
        assert answer.status_code == 302


@sqlite_only
def test_behind_the_router_each_client_has_its_own_address_limit(proxied, app):
    def from_client(flask_app: Flask, client_address: str, n: int) -> int:
        client = flask_app.test_client()
        return _attempt(
            client,
            "/connexion",
            f"inconnu.{client_address}.{n}@ac-nice.fr",
            REMOTE_ADDR="10.0.0.1",  # the router
            HTTP_X_FORWARDED_FOR=client_address,
        ).status_code

    # Trusted: ten attempts from one school do not lock the next school out.
    assert [from_client(proxied, "203.0.113.5", n) for n in range(10)] == [401] * 10
    assert from_client(proxied, "203.0.113.5", 10) == 429
    assert from_client(proxied, "203.0.113.6", 0) == 401
    # Not trusted (the default, 0): the header is anyone's to write, the router's address
    # counts, and a forged X-Forwarded-For buys no new attempts.
    assert [from_client(app, f"203.0.113.{n}", n) for n in range(10)] == [401] * 10
    assert from_client(app, "203.0.113.77", 0) == 429


def test_the_distributed_mode_keeps_the_limits_in_redis():
    environ = {
        "COOPFLOW_DATABASE_URL": "postgresql+psycopg://coopflow@db/coopflow",
        "COOPFLOW_BROKER_URL": "redis://broker:6379/0",
        "COOPFLOW_SECRET_KEY": KEY,
    }
    assert load_settings(environ, dotenv=False).ratelimit_storage_url == "redis://broker:6379/0"
    shared = {**environ, "COOPFLOW_RATELIMIT_STORAGE_URL": "redis://limits:6379/2"}
    assert load_settings(shared, dotenv=False).ratelimit_storage_url == "redis://limits:6379/2"
    with pytest.raises(ConfigurationError, match="RATELIMIT_STORAGE_URL"):
        load_settings({**environ, "COOPFLOW_RATELIMIT_STORAGE_URL": "memory://"}, dotenv=False)
    embedded = load_settings(
        {"COOPFLOW_DATABASE_URL": "sqlite:///x.sqlite3", "COOPFLOW_SECRET_KEY": KEY},
        dotenv=False,
    )
    assert embedded.ratelimit_storage_url == "memory://"
    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        load_settings({**environ, "COOPFLOW_TRUSTED_PROXIES": "-1"}, dotenv=False)
    assert (
        load_settings({**environ, "COOPFLOW_TRUSTED_PROXIES": "2"}, dotenv=False).trusted_proxies
        == 2
    )


@sqlite_only
def test_two_web_processes_count_the_same_attempts_in_redis(settings):
    require_redis()
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    first, second = (_app(settings, ratelimit_storage_url=REDIS_URL) for _ in range(2))
    try:
        email = "eloise.martin@ac-nice.fr"
        statuses = [
            _attempt((first if n % 2 else second).test_client(), "/connexion", email).status_code
            for n in range(PER_ACCOUNT + 1)
        ]
    finally:
        first.extensions["coopflow"].stop()
        second.extensions["coopflow"].stop()
    assert statuses == [401] * PER_ACCOUNT + [429]
