"""Logs carry their key/values; Sentry events lose every secret before leaving."""

from __future__ import annotations

import logging

from coopflow.observability import KeyValueFormatter, scrub_event


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
