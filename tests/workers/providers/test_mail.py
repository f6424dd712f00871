"""The SMTP client against a real server on loopback: one connection per worker thread
for a wave of messages, checked after an idle time, replaced when it is gone."""

from __future__ import annotations

import socket
import threading
from email.message import EmailMessage

import pytest

from tests.smtp import SMTPServer
from workers.providers.mail import SMTPMailer
from workers.providers.mail.errors import MailRefused


def message(n: int) -> EmailMessage:
    out = EmailMessage()
    out["From"] = "OCCE <ne-pas-repondre@occe.coop>"
    out["To"] = f"mandataire.{n}@ac-nice.fr"
    out["Subject"] = f"Message {n}"
    out.set_content("Bonjour")
    return out


def test_a_thread_sends_its_messages_through_one_connection(smtp_server: SMTPServer):
    mailer = SMTPMailer(smtp_server.url)
    for n in range(5):
        mailer.send(message(n))
    assert len(smtp_server.messages) == 5
    assert len(set(smtp_server.peers)) == 1


def test_each_thread_has_its_own_connection(smtp_server: SMTPServer):
    mailer = SMTPMailer(smtp_server.url)

    def send(first: int) -> None:
        for n in range(first, first + 3):
            mailer.send(message(n))

    threads = [threading.Thread(target=send, args=(10 * i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(smtp_server.messages) == 9
    assert len(set(smtp_server.peers)) == 3


def test_an_idle_connection_is_checked_and_a_lost_one_replaced(
    smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
):
    mailer = SMTPMailer(smtp_server.url)
    mailer.send(message(1))
    monkeypatch.setattr(SMTPMailer, "CHECK_AFTER_SECONDS", 0.0)  # every reuse is checked
    mailer.send(message(2))
    assert len(set(smtp_server.peers)) == 1  # NOOP answered: the same connection
    mailer._kept.smtp.sock.shutdown(socket.SHUT_RDWR)  # dropped meanwhile (server, firewall)
    mailer.send(message(3))
    assert len(smtp_server.messages) == 3 and len(set(smtp_server.peers)) == 2


def test_a_refused_recipient_does_not_spoil_the_next_message(smtp_server: SMTPServer):
    mailer = SMTPMailer(smtp_server.url)
    smtp_server.refused.add("mandataire.1@ac-nice.fr")
    with pytest.raises(MailRefused):
        mailer.send(message(1))
    mailer.send(message(2))
    assert [str(m["To"]) for m in smtp_server.messages] == ["mandataire.2@ac-nice.fr"]


def test_a_message_that_cannot_be_written_does_not_spoil_the_connection(
    smtp_server: SMTPServer,
):
    """A Python error while flattening a thread's first message (found with messages
    the client could not encode) left its connection kept without its idle clock:
    every later send of that thread failed."""
    mailer = SMTPMailer(smtp_server.url)
    broken = message(1)
    broken.policy = None  # type: ignore[assignment]  # flattening it fails
    with pytest.raises(AttributeError):
        mailer.send(broken)
    mailer.send(message(2))
    assert [str(m["Subject"]) for m in smtp_server.messages] == ["Message 2"]
