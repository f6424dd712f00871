"""``POST /webhooks/mail``: the mail relay's delivery reports, through the real app and
its worker, on both backends. Authenticated before parsing; applied once however many
times and in whatever order they arrive; bad events refused in French, nothing written."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests import factories
from tests.helpers import invitation_case
from tests.security.conftest import database_rows
from tests.web.conftest import case_row, settle
from web.webhooks.mail import SIGNATURE_HEADER, signature
from workflows.engine.engine import Actor
from workflows.models import AD, CaseEvent, Email, Mandataire, WebhookEvent

SECRET = "secret-du-relais-de-messagerie"
SYSTEM = Actor.system("test")
UNKNOWN_USER = "550 5.1.1 <{to}>: Recipient address rejected: User unknown"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    """The suite's settings, with the relay's secret configured."""
    return settings.with_overrides(mail_webhook_secret=SECRET)


def post(client: Any, document: Any, *, secret: str = SECRET, raw: bytes | None = None) -> Any:
    body = raw if raw is not None else json.dumps(document).encode()
    return client.post(
        "/webhooks/mail",
        data=body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: signature(secret, body)},
    )


def invited(runtime: Any, ad: AD) -> tuple[int, Email]:
    """An invitation really sent by the worker: its case and its email row."""
    coop = factories.CoopFactory(ad=ad)
    person = factories.MandataireFactory(coop=coop, email=f"m.{coop.id}@ac-nice.fr")
    with runtime.engine.transaction() as tx:
        case_id = invitation_case(tx, person, "invite", actor=SYSTEM, trigger=None).id
    settle(runtime)
    assert case_row(runtime, case_id).state == "invited"
    with runtime.db.read() as session:
        email = session.scalars(select(Email).where(Email.case_id == case_id)).one()
        session.expunge(email)
    assert email.status == "sent"
    return case_id, email


def event(email: Email, event_id: str, kind: str, minutes: int = 0) -> dict[str, str]:
    at = datetime(2026, 9, 7, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return {
        "eventId": event_id,
        "eventType": kind,
        "eventDate": at.isoformat().replace("+00:00", "Z"),
        "messageId": email.message_id,
        "recipient": email.to_address,
        "diagnostic": UNKNOWN_USER.format(to=email.to_address) if kind == "bounced" else "",
    }


def bounces_of(runtime: Any, case_id: int) -> int:
    with runtime.db.read() as session:
        return session.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.trigger == "bounce")
        )


def email_status(runtime: Any, email_id: int) -> str:
    with runtime.db.read() as session:
        email = session.get(Email, email_id)
        assert email is not None
        return email.status


def test_a_bounce_stops_the_invitation_with_the_reason(client, runtime, ad):
    case_id, email = invited(runtime, ad)

    answer = post(client, event(email, "evt-1", "bounced"))

    assert answer.status_code == 200
    assert answer.json == {
        "resultat": "applied",
        "message": "Email marqué refusé ; invitation arrêtée (adresse refusée).",
    }
    case = case_row(runtime, case_id)
    assert case.state == "bounced" and case.stuck_reason == "invitation_bounced"
    assert case.stuck_message == (
        f"Le serveur de messagerie a refusé l'adresse {email.to_address} : "
        + UNKNOWN_USER.format(to=email.to_address)
    )
    assert email_status(runtime, email.id) == "bounced"
    with runtime.db.read() as session:
        bounce = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.trigger == "bounce")
        ).one()
        assert bounce.to_state == "bounced" and "serveur de messagerie" in bounce.actor
        assert bounce.payload["event_id"] == "evt-1"


ORDERS = {
    "bounce first": ["b", "d", "b", "b", "l", "b", "d", "b"],
    "delivered first": ["d", "l", "b", "d", "b", "b", "b", "b"],
    "late report last": ["b", "b", "d", "b", "b", "d", "b", "l"],
}


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_the_same_bounce_five_times_out_of_order_is_applied_once(client, runtime, ad, order):
    """Five deliveries of one bounce, mixed with repeated « delivered » and « deferred »
    reports of the same message (dated before and after), in three orders: the case
    bounces once, the email ends ``bounced``, each event is kept once."""
    case_id, email = invited(runtime, ad)
    events = {
        "b": event(email, "evt-bounce", "bounced", minutes=5),
        "d": event(email, "evt-delivered", "delivered", minutes=1),
        "l": event(email, "evt-deferred", "deferred", minutes=0),
    }
    assert order.count("b") == 5
    answers = [post(client, events[key]) for key in order]

    assert all(a.status_code == 200 for a in answers)
    results = [(key, a.json["resultat"]) for key, a in zip(order, answers, strict=True)]
    assert results.count(("b", "applied")) == 1 and results.count(("b", "duplicate")) == 4
    assert bounces_of(runtime, case_id) == 1
    assert case_row(runtime, case_id).state == "bounced"
    assert email_status(runtime, email.id) == "bounced"  # « delivered » never undoes it
    with runtime.db.read() as session:
        kept = session.scalars(select(WebhookEvent.event_id).order_by(WebhookEvent.id)).all()
    assert sorted(kept) == ["evt-bounce", "evt-deferred", "evt-delivered"]


def test_five_simultaneous_deliveries_apply_once(app, runtime, ad):
    """The relay retrying while the first delivery is still being handled: five threads
    post the same bounce at the same moment."""
    case_id, email = invited(runtime, ad)
    body = event(email, "evt-race", "bounced")
    start = threading.Barrier(5)
    results: list[str] = []

    def deliver() -> None:
        client = app.test_client()
        start.wait()
        answer = post(client, body)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        results.append(answer.json["resultat"])

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["applied"] + ["duplicate"] * 4
    assert bounces_of(runtime, case_id) == 1


def test_a_delivery_report_marks_the_email_delivered(client, runtime, ad):
    case_id, email = invited(runtime, ad)
    answer = post(client, event(email, "evt-ok", "delivered"))
    assert answer.json["resultat"] == "applied"
    assert email_status(runtime, email.id) == "delivered"
    assert case_row(runtime, case_id).state == "invited"


def test_a_bounce_of_an_address_since_corrected_leaves_the_invitation_alone(client, runtime, ad):
    case_id, email = invited(runtime, ad)
    with runtime.engine.transaction() as tx:
        mandataire = tx.session.get(Mandataire, case_row(runtime, case_id).data["mandataire_id"])
        assert mandataire is not None
        mandataire.email = "nouvelle.adresse@ac-nice.fr"

    answer = post(client, event(email, "evt-old", "bounced"))

    assert answer.json == {
        "resultat": "applied",
        "message": "Email marqué refusé ; l'adresse du mandataire a changé depuis.",
    }
    assert case_row(runtime, case_id).state == "invited"
    assert email_status(runtime, email.id) == "bounced"


def test_a_report_on_an_unknown_message_is_kept_and_ignored(client, runtime, ad):
    answer = post(
        client,
        {
            "eventId": "evt-stranger",
            "eventType": "bounced",
            "eventDate": "2026-09-07T09:00:00+02:00",
            "messageId": "<inconnu@ailleurs.example>",
        },
    )
    assert answer.json == {"resultat": "ignored", "message": "Message inconnu de coopflow."}
    with runtime.db.read() as session:
        row = session.scalars(select(WebhookEvent)).one()
    assert (row.outcome, row.email_id) == ("ignored", None)


@pytest.mark.parametrize(
    ("header", "body"),
    [
        (None, b'{"eventId": "x"}'),
        ("sha256=" + "0" * 64, b'{"eventId": "x"}'),
        (signature("un-autre-secret", b'{"eventId": "x"}'), b'{"eventId": "x"}'),
        (signature(SECRET, b'{"eventId": "y"}'), b'{"eventId": "x"}'),
        # Not even JSON: refused for its signature, never parsed.
        ("sha256=abc", b"\xff\xfe{{{ pas du json"),
    ],
    ids=["absent", "zeros", "other secret", "other body", "garbage"],
)
def test_an_unsigned_report_is_refused_before_parsing(client, runtime, ad, header, body):
    invited(runtime, ad)
    before = database_rows(runtime)
    headers = {SIGNATURE_HEADER: header} if header else {}
    answer = client.post(
        "/webhooks/mail", data=body, content_type="application/json", headers=headers
    )
    assert answer.status_code == 401
    assert answer.json == {"erreur": "Signature manquante ou invalide."}
    assert database_rows(runtime) == before


def test_without_a_secret_the_webhook_does_not_exist(client, runtime, monkeypatch):
    monkeypatch.setattr(
        runtime, "settings", runtime.settings.with_overrides(mail_webhook_secret=None)
    )
    answer = post(client, GOOD)
    assert answer.status_code == 404


def test_an_oversized_report_is_refused(client, runtime):
    before = database_rows(runtime)
    body = b'{"diagnostic": "' + b"x" * (70 * 1024) + b'"}'
    answer = post(client, None, raw=body)
    assert answer.status_code == 413
    assert answer.json == {"erreur": "Événement trop volumineux (64 Ko au plus)."}
    assert database_rows(runtime) == before


GOOD = {
    "eventId": "evt-1",
    "eventType": "bounced",
    "eventDate": "2026-09-07T09:00:00Z",
    "messageId": "<abc@coopflow.occe.coop>",
    "recipient": "m@ac-nice.fr",
    "diagnostic": "550 5.1.1",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"eventId": None}, "eventId manquant ou invalide : texte attendu."),
        ({"eventId": "  "}, "eventId manquant ou invalide : texte attendu."),
        ({"eventId": 12}, "eventId manquant ou invalide : texte attendu."),
        (
            {"eventId": "x" * 201},
            "eventId invalide : au plus 200 caractères, sans caractère de contrôle.",
        ),
        (
            {"eventType": "opened"},
            "eventType inconnu : « opened » (attendus : delivered, deferred, bounced).",
        ),
        (
            {"eventDate": "07/09/2026"},
            "eventDate invalide : une date ISO 8601 avec fuseau horaire est attendue.",
        ),
        (
            {"eventDate": "2026-09-07T09:00:00"},
            "eventDate invalide : une date ISO 8601 avec fuseau horaire est attendue.",
        ),
        (
            {"messageId": "pas-un-identifiant"},
            "messageId invalide : un identifiant de message <…@…> est attendu.",
        ),
        (
            {"diagnostic": "a\x00b"},
            "diagnostic invalide : au plus 1000 caractères, sans caractère de contrôle.",
        ),
    ],
)
def test_a_malformed_report_is_refused_in_french(client, runtime, change, message):
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


#: The fuzzing tests' settings: the same examples on every run, no deadline, and the
#: app and database of the test kept across its examples.
FUZZ = examples(
    deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@examples(FUZZ, max_examples=60)
@given(
    mutation=st.dictionaries(
        st.sampled_from(sorted(GOOD)) | st.text(max_size=8), JSON, min_size=1, max_size=4
    ),
    dropped=st.sets(st.sampled_from(sorted(GOOD))),
)
def test_any_signed_garbage_is_refused_in_french_or_applied_harmlessly(
    client, runtime, mutation, dropped
):
    """A valid report with some fields replaced by any JSON and some removed: a 400 with
    French details and nothing written, or (when the result is still a valid report of a
    message coopflow never sent) kept once and ignored."""
    document = {k: v for k, v in {**GOOD, **mutation}.items() if k not in dropped}
    before = database_rows(runtime)
    answer = post(client, document)
    if answer.status_code == 400:
        assert answer.json["erreur"] == "Événement refusé."
        assert all(isinstance(d, str) and d for d in answer.json["details"])
        assert database_rows(runtime) == before
    else:
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.json["resultat"] in ("ignored", "duplicate")
        with runtime.db.read() as session:
            assert session.scalar(select(func.count()).select_from(Email)) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@examples(FUZZ, max_examples=40)
@given(raw=st.binary(max_size=300))
def test_any_signed_bytes_never_fail_the_server(client, runtime, raw):
    before = database_rows(runtime)
    answer = post(client, None, raw=raw)
    assert answer.status_code in (200, 400)
    if answer.status_code == 400:
        assert answer.json["erreur"].startswith("Événement refusé")
        assert database_rows(runtime) == before


def test_a_report_faster_than_our_own_record_is_kept(client, runtime, ad):
    """The relay may report a bounce before the worker has recorded the server's
    « 250 »: that late record does not turn the email back to ``sent``."""
    from workers.email_delivery import _record_after_send

    _, email = invited(runtime, ad)
    post(client, event(email, "evt-fast", "bounced"))
    _record_after_send(
        runtime.engine, [{"email_id": email.id, "answer": "sent", "answer_error": None}], []
    )
    assert email_status(runtime, email.id) == "bounced"
