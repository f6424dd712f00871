"""Logs carry their key/values; Sentry events lose every secret before leaving."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import sentry_sdk
from flask import request
from sentry_sdk.integrations.dramatiq import DramatiqIntegration
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration
from sentry_sdk.transport import Transport

from coopflow.app import create_app
from coopflow.config import Settings
from coopflow.observability import KeyValueFormatter, init_sentry, scrub_event
from coopflow.runtime import Runtime, build_runtime
from tests.helpers import start_invitation
from workers.broker import QUEUE
from workers.runner import run_step
from workers.steps import invitation as invitation_steps
from workflows.engine.errors import PermanentStepError


def test_log_lines_carry_the_case_id():
    record = logging.makeLogRecord(
        {
            "msg": "step done",
            "levelname": "INFO",
            "name": "workers.runner",
            "case_id": 42,
            "step": "send_invitation",
        }
    )
    line = KeyValueFormatter("%(levelname)s %(name)s %(message)s").format(record)
    assert line == "INFO workers.runner step done case_id=42 step=send_invitation"


def test_sentry_events_are_scrubbed():
    event = {
        "request": {
            "data": {
                "password": "Cooperative*2026",
                "confirmation": "Cooperative*2026",
                "csrf_token": "abc",
                "email": "eloise.martin@ac-nice.fr",
            },
            "headers": {"Cookie": "session=xyz", "User-Agent": "Firefox"},
            "query_string": "token=secret",
        },
        "extra": {"iban": "FR7630006000011234567890189", "case_id": 3},
    }
    scrubbed = scrub_event(event, {})
    data = scrubbed["request"]["data"]
    assert data["password"] == data["confirmation"] == data["csrf_token"] == "[filtré]"
    assert data["email"] == "eloise.martin@ac-nice.fr"
    assert scrubbed["request"]["headers"] == {"Cookie": "[filtré]", "User-Agent": "Firefox"}
    assert scrubbed["request"]["query_string"] == "[filtré]"
    assert scrubbed["extra"] == {"iban": "[filtré]", "case_id": 3}


# --- Sentry: what would leave the process ---------------------------------------------

PASSWORD = "Cooperative*Secret2026"
IBAN = "FR7630006000011234567890189"
BEARER = "bearer-value-never-sent"
COOKIE = "cookie-value-never-sent"


class CapturingTransport(Transport):
    """Keeps the envelopes Sentry would send over HTTP."""

    def __init__(self) -> None:
        super().__init__({"dsn": DSN})
        self.envelopes: list[Any] = []

    def capture_envelope(self, envelope: Any) -> None:
        self.envelopes.append(envelope)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == "event"
        ]


DSN = "https://public@sentry.invalid/1"


@pytest.fixture
def sentry(settings: Settings) -> Iterator[CapturingTransport]:
    transport = CapturingTransport()
    init_sentry(settings.with_overrides(sentry_dsn=DSN), transport=transport)
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def sentry_runtime(sentry, settings, smtp_server, clock) -> Iterator[Runtime]:
    """Built after Sentry, as in ``build_runtime``: the broker gets its middleware."""
    rt = build_runtime(settings.with_overrides(smtp_url=smtp_server.url), clock=clock)
    rt.start_worker(threads=2)
    yield rt
    rt.stop()


def signed_link(rt: Runtime) -> tuple[str, str]:
    nonce = secrets.token_urlsafe(24)
    return rt.links._serializer("invitation").dumps([1, nonce]), nonce


def assert_nothing_secret(events: list[dict[str, Any]], *secrets_: str) -> None:
    sent = json.dumps(events, ensure_ascii=False)
    for secret in (PASSWORD, IBAN, "FR76 3000 6000 0112 3456 7890 189", BEARER, COOKIE, *secrets_):
        assert secret not in sent, secret


def test_sentry_is_on_with_its_integrations_and_without_personal_data(sentry):
    client = sentry_sdk.get_client()
    assert client.is_active()
    for integration in (FlaskIntegration, DramatiqIntegration, SqlalchemyIntegration):
        assert client.get_integration(integration) is not None, integration
    assert client.should_send_default_pii() is False
    assert client.options["event_scrubber"] is not None  # the SDK's own denylist
    assert client.options["before_send"] is scrub_event


def test_an_error_in_a_request_reaches_sentry_without_secrets(sentry, sentry_runtime, monkeypatch):
    rt = sentry_runtime
    app = create_app(runtime=rt)
    app.config.update(PROPAGATE_EXCEPTIONS=False, WTF_CSRF_ENABLED=False)
    token, nonce = signed_link(rt)

    def resolve(session, raw, **_):  # type: ignore[no-untyped-def]
        password = request.form["password"]  # a local variable, as a real bug would have
        raise RuntimeError(f"lien {raw} refusé pour {password[:0]}le compte {IBAN}")

    monkeypatch.setattr(rt.links, "resolve", resolve)
    client = app.test_client()
    client.set_cookie("session", COOKIE)
    response = client.post(
        f"/invitation/{token}?token={token}",
        data={"password": PASSWORD, "confirmation": PASSWORD, "iban": IBAN},
        headers={"Authorization": f"Bearer {BEARER}"},
    )
    assert response.status_code == 500
    events = sentry.events
    errors = [e for e in events if e.get("exception")]
    assert errors, events
    [value] = errors[0]["exception"]["values"]
    assert value["type"] == "RuntimeError"
    assert "[lien filtré]" in value["value"] and "[IBAN filtré …0189]" in value["value"]
    assert errors[0]["request"]["url"].endswith("/invitation/[lien filtré]")
    assert_nothing_secret(events, token, nonce)


def test_errors_in_steps_and_actors_reach_sentry_without_secrets(
    sentry, sentry_runtime, ad, monkeypatch
):
    rt = sentry_runtime
    token, nonce = signed_link(rt)

    def send_invitation(ctx):  # type: ignore[no-untyped-def]
        password = PASSWORD  # noqa: F841  (a local variable, as a real bug would have)
        raise PermanentStepError(f"IBAN {IBAN} refusé par la banque (lien {token})")

    monkeypatch.setitem(invitation_steps.STEPS, "send_invitation", send_invitation)
    case_id, _, _ = start_invitation(rt.engine, ad)

    def crashing_actor(iban: str) -> None:
        password = PASSWORD  # noqa: F841
        raise ValueError(f"virement impossible vers {iban} (lien {token})")

    boom = dramatiq.actor(actor_name="boom", queue_name=QUEUE, broker=rt.broker)(crashing_actor)
    boom.send(IBAN)
    rt.join()

    events = sentry.events
    step_failed = [e for e in events if (e.get("logentry") or {}).get("message") == "step failed"]
    assert step_failed, events
    assert step_failed[0]["extra"]["case_id"] == case_id
    assert "[IBAN filtré …0189]" in step_failed[0]["extra"]["error"]
    from_actor = [
        e
        for e in events
        if e.get("exception", {}).get("values", [{}])[-1].get("type") == "ValueError"
    ]
    assert from_actor, events
    assert_nothing_secret(events, token, nonce)


# --- Logs: the case id on every line of a step and of a transition ---------------------


def test_every_log_line_of_a_step_and_a_transition_carries_the_case_id(runtime, ad, caplog):
    caplog.set_level(logging.DEBUG)
    case_id, step_id, _ = start_invitation(runtime.engine, ad)
    runtime.join()
    run_step(runtime, step_id)  # delivered again: skipped, still says which case

    formatter = KeyValueFormatter("%(levelname)s %(name)s %(message)s")
    # Our modules' lines (Dramatiq names its actors' loggers after our module: not ours).
    ours = [
        r
        for r in caplog.records
        if r.name.startswith(("workers.", "workflows.")) and "site-packages" not in r.pathname
    ]
    lines = [formatter.format(r) for r in ours]
    messages = {r.getMessage() for r in ours}
    assert {
        "case transition",
        "step started",
        "email delivered",
        "step done",
        "step skipped",
    } <= messages, lines
    for line in lines:
        assert f"case_id={case_id}" in line, line
