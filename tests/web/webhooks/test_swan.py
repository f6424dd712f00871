"""``POST /webhooks/swan``: Swan's events through the real app, its worker and the
simulated Swan, on both backends. The secret checked before a byte of the body is read;
each event kept once; the sync step re-querying Swan, so that events twice, late or out
of order never move a case backwards; unknown events kept and ignored."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.security.conftest import database_rows
from tests.web.conftest import case_row, settle
from web.webhooks.swan import SECRET_HEADER
from workflows.models import Case, CaseEvent, WebhookEvent

SECRET = "secret-des-webhooks-swan"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    """The suite's settings, with Swan's webhook secret configured."""
    return settings.with_overrides(swan_webhook_secret=SECRET)


def post(client: Any, document: Any, *, secret: str | None = SECRET, raw: bytes | None = None):  # type: ignore[no-untyped-def]
    body = raw if raw is not None else json.dumps(document).encode()
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return client.post(
        "/webhooks/swan", data=body, content_type="application/json", headers=headers
    )


def kyc_of(runtime: Any, coop_id: int) -> tuple[int, str]:
    """The coop's kyc case (its membership requested by the worker) and its membership."""
    with runtime.db.read() as session:
        case = session.scalars(
            select(Case).where(Case.coop_id == coop_id, Case.process == "kyc")
        ).one()
        return case.id, case.data["membership_id"]


def syncs_of(runtime: Any, case_id: int) -> int:
    with runtime.db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(CaseEvent)
                .where(CaseEvent.case_id == case_id, CaseEvent.trigger == "sync")
            )
            or 0
        )


def kept(runtime: Any) -> list[WebhookEvent]:
    with runtime.db.read() as session:
        rows = list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))
        for row in rows:
            session.expunge(row)
        return rows


@pytest.fixture
def coop(make_coop):  # type: ignore[no-untyped-def]
    return make_coop("active")


def test_swans_events_take_the_case_to_verified(client, runtime, coop):
    case_id, membership = kyc_of(runtime, coop.coop_id)
    assert case_row(runtime, case_id).state == "link_sent"
    for outcome, state in (
        ("started", "in_progress"),
        ("pending", "pending_review"),
        ("valid", "verified"),
    ):
        for event in runtime.swan.simulate(membership, outcome):
            answer = post(client, event)
            assert answer.status_code == 200
            assert answer.json == {"resultat": "applied", "message": "Statut demandé à Swan."}
        settle(runtime)
        assert case_row(runtime, case_id).state == state
    [row, *_] = kept(runtime)
    assert (row.source, row.case_id, row.outcome) == ("swan", case_id, "applied")
    assert row.payload["resourceId"] == membership


def test_the_answer_does_not_wait_for_swan(client, runtime, coop, monkeypatch):
    """Swan answering in a second slows the sync step, never the webhook."""
    case_id, membership = kyc_of(runtime, coop.coop_id)
    [event] = runtime.swan.simulate(membership, "started")
    monkeypatch.setattr(runtime.swan, "latency_ms", 1000)
    started = time.perf_counter()
    answer = post(client, event)
    assert answer.status_code == 200 and time.perf_counter() - started < 0.5
    settle(runtime)
    assert case_row(runtime, case_id).state == "in_progress"


def test_the_same_event_five_times_is_kept_once_and_syncs_once(client, runtime, coop):
    case_id, membership = kyc_of(runtime, coop.coop_id)
    [event] = runtime.swan.simulate(membership, "started")
    answers = [post(client, event) for _ in range(5)]
    assert all(a.status_code == 200 for a in answers)
    assert [a.json["resultat"] for a in answers] == ["applied"] + ["duplicate"] * 4
    assert answers[1].json["message"] == "Événement déjà reçu."
    settle(runtime)
    assert len(kept(runtime)) == 1 and syncs_of(runtime, case_id) == 1
    assert case_row(runtime, case_id).state == "in_progress"


def test_five_simultaneous_deliveries_sync_once(app, runtime, coop):
    case_id, membership = kyc_of(runtime, coop.coop_id)
    [event] = runtime.swan.simulate(membership, "started")
    start = threading.Barrier(5)
    results: list[str] = []

    def deliver() -> None:
        client = app.test_client()
        start.wait()
        answer = post(client, event)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        results.append(answer.json["resultat"])

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    settle(runtime)
    assert sorted(results) == ["applied"] + ["duplicate"] * 4
    assert syncs_of(runtime, case_id) == 1


def test_a_late_started_after_valid_leaves_the_case_verified(client, runtime, coop):
    """Out of order: Swan's « Bound » arrives first, the « started » and « pending »
    events after it; the case stays verified."""
    case_id, membership = kyc_of(runtime, coop.coop_id)
    started = runtime.swan.simulate(membership, "started")
    sent = runtime.swan.simulate(membership, "pending")
    bound = runtime.swan.simulate(membership, "valid")
    assert post(client, bound[-1]).json["resultat"] == "applied"
    settle(runtime)
    assert case_row(runtime, case_id).state == "verified"

    for event in [*started, *sent]:
        answer = post(client, event)
        assert answer.status_code == 200
        assert answer.json == {
            "resultat": "ignored",
            "message": "Dossier à l'état « Identité vérifiée » : rien à demander à Swan.",
        }
    settle(runtime)
    assert case_row(runtime, case_id).state == "verified"
    assert len(kept(runtime)) == 1 + len(started) + len(sent)


def test_an_event_ten_minutes_late_changes_nothing_more(client, runtime, coop, clock):
    """« started » delivered ten minutes late, after « pending » was applied: the sync
    it queues reads Swan's « Pending » and the case stays in review."""
    case_id, membership = kyc_of(runtime, coop.coop_id)
    [started] = runtime.swan.simulate(membership, "started")
    clock.advance(timedelta(minutes=1))
    [sent] = runtime.swan.simulate(membership, "pending")
    post(client, sent)
    settle(runtime)
    assert case_row(runtime, case_id).state == "pending_review"

    clock.advance(timedelta(minutes=10))
    answer = post(client, started)
    assert answer.json["resultat"] == "applied"  # a sync is allowed in review
    settle(runtime)
    case = case_row(runtime, case_id)
    assert case.state == "pending_review" and case.data["swan_status"] == "Pending"
    with runtime.db.read() as session:
        moves = session.scalars(
            select(CaseEvent.trigger).where(
                CaseEvent.case_id == case_id, CaseEvent.from_state != CaseEvent.to_state
            )
        ).all()
    assert "started" not in moves  # Pending was read first: never back to in progress


@pytest.mark.parametrize(
    ("event_type", "message"),
    [
        ("Consent.Granted", "Événement Swan que coopflow ne suit pas encore."),
        ("Transaction.Pending", "Événement Swan que coopflow ne suit pas encore."),
        ("Onboarding.Finalized", "Type d'événement Swan inconnu : « Onboarding.Finalized »."),
    ],
)
def test_events_no_process_follows_are_kept_and_ignored(client, runtime, coop, event_type, message):
    case_id, membership = kyc_of(runtime, coop.coop_id)
    answer = post(client, {**GOOD, "eventType": event_type, "resourceId": membership})
    assert answer.status_code == 200
    assert answer.json == {"resultat": "ignored", "message": message}
    [row] = kept(runtime)
    assert (row.event_type, row.outcome, row.outcome_message) == (event_type, "ignored", message)
    assert syncs_of(runtime, case_id) == 0


def test_an_event_about_a_resource_coopflow_does_not_have_is_ignored(client, runtime):
    answer = post(client, {**GOOD, "resourceId": "sbx_mem_inconnu"})
    assert answer.json == {"resultat": "ignored", "message": "Ressource Swan inconnue de coopflow."}
    assert [row.outcome for row in kept(runtime)] == ["ignored"]


# Security --------------------------------------------------------------------------------


class UnreadBody(io.BytesIO):
    """A request body that records being read: the secret must be refused first."""

    reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().read(size)

    def read1(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().read1(size)

    def readinto(self, buffer: Any) -> int:
        self.reads += 1
        return super().readinto(buffer)

    def readline(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().readline(size)


@pytest.mark.parametrize(
    "secret",
    [None, "", "mauvais-secret", SECRET + "x", SECRET[:-1], "secret-des-webhooks-swaN"],
    ids=["absent", "empty", "other", "longer", "shorter", "one letter"],
)
def test_without_the_secret_nothing_is_read_nor_kept(client, runtime, coop, secret):
    before = database_rows(runtime)
    body = UnreadBody(b"{" * (10 * 1024 * 1024))  # 10 Mo of garbage: refused unread
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    answer = client.post("/webhooks/swan", input_stream=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json == {"erreur": "Secret manquant ou invalide."}
    assert body.reads == 0
    assert database_rows(runtime) == before


def test_without_a_secret_configured_the_webhook_does_not_exist(client, runtime, monkeypatch):
    monkeypatch.setattr(
        runtime, "settings", runtime.settings.with_overrides(swan_webhook_secret=None)
    )
    assert post(client, GOOD).status_code == 404
    assert post(client, GOOD, secret=None).status_code == 404


def test_an_oversized_event_is_refused(client, runtime):
    before = database_rows(runtime)
    answer = post(client, None, raw=b'{"eventId": "' + b"x" * (70 * 1024) + b'"}')
    assert answer.status_code == 413
    assert answer.json == {"erreur": "Événement trop volumineux (64 Ko au plus)."}
    assert database_rows(runtime) == before


GOOD = {
    "eventType": "AccountMembership.Updated",
    "eventId": "evt-1",
    "eventDate": "2026-09-07T09:00:00.000Z",
    "projectId": "sandbox",
    "resourceId": "sbx_mem_0123456789abcdef",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"eventId": None}, "eventId manquant ou invalide : texte attendu."),
        ({"eventId": "  "}, "eventId manquant ou invalide : texte attendu."),
        (
            {"eventId": "x" * 201},
            "eventId invalide : au plus 200 caractères, sans caractère de contrôle.",
        ),
        ({"eventType": 3}, "eventType manquant ou invalide : texte attendu."),
        (
            {"eventType": "AccountMembership." + "x" * 30},
            "eventType invalide : au plus 40 caractères, sans caractère de contrôle.",
        ),
        ({"resourceId": ""}, "resourceId manquant ou invalide : texte attendu."),
        ({"projectId": None}, "projectId manquant ou invalide : texte attendu."),
        (
            {"eventDate": "07/09/2026"},
            "eventDate invalide : une date ISO 8601 avec fuseau horaire est attendue.",
        ),
        (
            {"eventDate": "2026-09-07T09:00:00"},
            "eventDate invalide : une date ISO 8601 avec fuseau horaire est attendue.",
        ),
    ],
)
def test_a_malformed_event_is_refused_in_french(client, runtime, change, message):
    before = database_rows(runtime)
    answer = post(client, {**GOOD, **change})
    assert answer.status_code == 400
    assert answer.json == {"erreur": "Événement refusé.", "details": [message]}
    assert database_rows(runtime) == before


def test_not_json_nor_an_object_is_refused_in_french(client, runtime):
    before = database_rows(runtime)
    for raw in (b"pas du json", b"\xff\xfe\x00", b"[1, 2]", b'"texte"', b"null", b"[" * 5000):
        answer = post(client, None, raw=raw)
        assert answer.status_code == 400, raw
        assert answer.json["erreur"].startswith("Événement refusé")
    assert database_rows(runtime) == before
