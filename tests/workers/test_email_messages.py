"""The MIME message of a stored email, as a mail client reads it back: French subjects of
any length, an accented sender, both bodies in UTF-8."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from typing import Any

import pytest

from workers.email_messages import mime_message

LONG = (
    "Adhésion 2026-2027 de la Coopérative scolaire de l'école élémentaire Jean-Jaurès "
    "validée : vos attestations d'adhésion et d'assurance"
)


def _read(subject: str, sender: str, text: str = "Bonjour,\n136,99\u00a0€", html: str = "") -> Any:
    stored = {
        "to_address": "camille.giraud@ac-nice.fr",
        "subject": subject,
        "message_id": "<42.adhesion@coopflow.occe.coop>",
        "created_at": datetime(2026, 9, 21, 8, 30, tzinfo=UTC),
        "text_body": text,
        "html_body": html or "<p>Bonjour, l’adhésion est validée.</p>",
    }
    raw = mime_message(stored, sender).as_bytes()
    assert raw.isascii(), "7-bit on the wire: every server takes it"
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.mark.parametrize("subject", [LONG, "Invitation", "Votre espace — c'est prêt", "é" * 200])
def test_a_subject_reads_back_exactly_whatever_its_length(subject):
    assert _read(subject, "OCCE <noreply@occe.coop>")["Subject"] == subject


def test_the_sender_the_recipient_and_the_headers_read_back():
    message = _read("Invitation", "OCCE 06 – Fédération <noreply@occe.coop>")
    assert message["From"].addresses[0].display_name == "OCCE 06 – Fédération"
    assert message["From"].addresses[0].addr_spec == "noreply@occe.coop"
    assert message["To"] == "camille.giraud@ac-nice.fr"
    assert message["Message-ID"] == "<42.adhesion@coopflow.occe.coop>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"].datetime == datetime(2026, 9, 21, 8, 30, tzinfo=UTC)
    assert _read("Invitation", "noreply@occe.coop")["From"] == "noreply@occe.coop"


def test_both_bodies_read_back_in_utf8():
    text = "Bonjour,\n\nMontant de l'adhésion : 136,99\u00a0€ – réf. « AFF-2026 »\n" + "é" * 300
    message = _read(
        "Invitation", "OCCE <noreply@occe.coop>", text, "<p>Œuvre, façon, 1\u202f800 €</p>"
    )
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().rstrip("\n") == text
    assert (
        message.get_body(("html",)).get_content().rstrip("\n")
        == "<p>Œuvre, façon, 1\u202f800 €</p>"
    )
