"""A worker that dies after handing an email to the server, before recording the
server's answer: the next run does not know whether the server has the message.

With a relay that reports (webhook), that run waits for the report on the Message-ID
and sends nothing more when it comes; only if none comes within the wait does the same
message go out again. The steps run here one at a time (``run_step``), against a real
SMTP server on loopback; the worker's death is an exception no handler catches, raised
right after the server answered "250"."""

from __future__ import annotations

import math
import socket
import threading
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from coopflow.runtime import Runtime, build_runtime
from tests.helpers import start_invitation
from tests.smtp import SMTPServer, _free_port
from workers.email_delivery import UNCERTAIN, report_poll
from workers.providers.mail import SMTPMailer
from workers.providers.mail.errors import MailUnavailable
from workers.runner import run_step, run_steps
from workflows.delivery_reports import MailEvent, MailEventType, apply
from workflows.models import Case, Email, Step

WAIT = timedelta(minutes=15)
POLL = report_poll(WAIT)


class WorkerKilled(BaseException):
    """``kill -9``: nothing after it runs, no ``except Exception`` sees it."""


class DiesAfterSending:
    """The real SMTP client; the process dies once the server has accepted a message."""

    def __init__(self, mailer: Any) -> None:
        self.mailer = mailer
        self.delivered_status = mailer.delivered_status

    def send(self, message: EmailMessage) -> None:
        self.mailer.send(message)
        raise WorkerKilled


@pytest.fixture
def make_runtime(settings, smtp_server, clock):
    made: list[Runtime] = []

    def make(report_wait: timedelta) -> Runtime:
        rt = build_runtime(
            settings.with_overrides(
                smtp_url=smtp_server.url, mail_report_wait_seconds=report_wait.total_seconds()
            ),
            clock=clock,
        )
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.stop()


def _invitation_dying_after_send(rt: Runtime, ad) -> tuple[int, int, str]:
    """An invitation whose first run handed the email over and died: case, step, address."""
    case_id, step_id, mandataire = start_invitation(rt.engine, ad)
    real, rt.mailer = rt.mailer, DiesAfterSending(rt.mailer)
    with pytest.raises(WorkerKilled):
        run_step(rt, step_id)
    rt.mailer = real
    return case_id, step_id, mandataire.email


def _after_the_lease(rt: Runtime, clock, step_id: int) -> None:
    """The dead run's lease runs out: the scheduler would publish the step again."""
    clock.advance(rt.engine.timing.run_lease + timedelta(seconds=1))
    run_step(rt, step_id)


def _row(rt: Runtime, model: type, id_: int) -> Any:
    with rt.db.read() as s:
        row = s.get(model, id_)
        s.expunge(row)
        return row


def _email(rt: Runtime, case_id: int) -> Email:
    with rt.db.read() as s:
        email = s.scalars(select(Email).where(Email.case_id == case_id)).one()
        s.expunge(email)
        return email


def _report(rt: Runtime, email: Email, kind: MailEventType, clock) -> None:
    with rt.engine.transaction() as tx:
        apply(
            tx,
            MailEvent(
                event_id=f"relay-{email.id}-{kind.value}",
                type=kind,
                occurred_at=clock.now(),
                message_id=email.message_id,
                recipient=email.to_address,
                diagnostic="",
            ),
        )


@pytest.mark.parametrize("kind", [MailEventType.DELIVERED, MailEventType.DEFERRED])
def test_the_relays_report_finishes_the_step_without_a_second_copy(
    make_runtime, smtp_server: SMTPServer, clock, ad, kind
):
    rt = make_runtime(WAIT)
    case_id, step_id, address = _invitation_dying_after_send(rt, ad)
    assert len(smtp_server.to(address)) == 1

    _after_the_lease(rt, clock, step_id)  # no report yet: the step waits
    step = _row(rt, Step, step_id)
    assert (step.status, step.last_error, step.attempts) == ("pending", UNCERTAIN, 1)
    assert abs(step.not_before - clock.now() - POLL) < timedelta(seconds=1)
    assert len(smtp_server.to(address)) == 1 and _row(rt, Case, case_id).state == "sending"

    _report(rt, _email(rt, case_id), kind, clock)
    clock.advance(POLL)
    run_step(rt, step_id)
    assert len(smtp_server.to(address)) == 1
    assert _row(rt, Step, step_id).status == "done"
    assert _row(rt, Case, case_id).state == "invited"
    expected = "delivered" if kind is MailEventType.DELIVERED else "sent"
    assert _email(rt, case_id).status == expected


def test_without_a_report_within_the_wait_the_same_message_goes_again(
    make_runtime, smtp_server: SMTPServer, clock, ad
):
    rt = make_runtime(WAIT)
    case_id, step_id, address = _invitation_dying_after_send(rt, ad)
    handed_at = _email(rt, case_id).handed_at
    _after_the_lease(rt, clock, step_id)
    polls = 0
    while (step := _row(rt, Step, step_id)).status == "pending":
        assert len(smtp_server.to(address)) == 1 and step.attempts == 1  # waiting uses none
        clock.advance(step.not_before - clock.now())
        run_step(rt, step_id)
        polls += 1
    waited_before = rt.engine.timing.run_lease + timedelta(seconds=1)  # the dead run's lease
    assert polls == math.ceil((WAIT - waited_before) / POLL)
    assert clock.now() - handed_at >= WAIT
    copies = smtp_server.to(address)
    assert len(copies) == 2 and copies[0]["Message-ID"] == copies[1]["Message-ID"]
    assert (_row(rt, Step, step_id).status, _row(rt, Case, case_id).state) == ("done", "invited")


def test_without_reports_the_message_goes_again_at_once(
    make_runtime, smtp_server: SMTPServer, clock, ad
):
    rt = make_runtime(timedelta(0))
    case_id, step_id, address = _invitation_dying_after_send(rt, ad)
    _after_the_lease(rt, clock, step_id)
    copies = smtp_server.to(address)
    assert len(copies) == 2 and copies[0]["Message-ID"] == copies[1]["Message-ID"]
    assert _row(rt, Case, case_id).state == "invited"


def test_a_server_that_answered_no_is_tried_again_without_waiting(
    make_runtime, smtp_server: SMTPServer, clock, ad
):
    rt = make_runtime(WAIT)
    case_id, step_id, mandataire = start_invitation(rt.engine, ad)
    smtp_server.refused_temporarily = {mandataire.email.lower()}
    run_step(rt, step_id)  # 451: a retry after the backoff
    step = _row(rt, Step, step_id)
    assert step.status == "pending" and "451" in step.last_error
    assert _email(rt, case_id).handed_at is None

    smtp_server.refused_temporarily = set()
    clock.advance(step.not_before - clock.now())
    run_step(rt, step_id)
    assert len(smtp_server.to(mandataire.email)) == 1
    assert _row(rt, Case, case_id).state == "invited"


# The SMTP client: which broken connections leave the message's fate unknown ----------


class _HangsUpAfterData:
    """A server that takes the whole message, then closes without answering."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 relais ESMTP\r\n")
            in_data = False
            for line in lines:
                if in_data:
                    if line == b".\r\n":
                        return  # the message is here; the answer never leaves
                    continue
                verb = line[:4].upper()
                if verb == b"EHLO":
                    conn.sendall(b"250 relais\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    in_data = True
                else:
                    conn.sendall(b"250 OK\r\n")

    def close(self) -> None:
        self.listener.close()


def _message() -> EmailMessage:
    out = EmailMessage()
    out["From"] = "OCCE <ne-pas-repondre@occe.coop>"
    out["To"] = "mandataire@ac-nice.fr"
    out["Subject"] = "Invitation"
    out.set_content("Bonjour")
    return out


def test_a_connection_lost_after_the_message_went_is_uncertain():
    server = _HangsUpAfterData()
    try:
        with pytest.raises(MailUnavailable) as raised:
            SMTPMailer(f"smtp://127.0.0.1:{server.port}").send(_message())
    finally:
        server.close()
    assert raised.value.uncertain
    assert "perdue pendant la remise" in str(raised.value)


def test_a_server_that_cannot_be_reached_certainly_has_nothing():
    with pytest.raises(MailUnavailable) as raised:
        SMTPMailer(f"smtp://127.0.0.1:{_free_port()}").send(_message())
    assert not raised.value.uncertain


def test_a_temporary_refusal_certainly_kept_nothing(smtp_server: SMTPServer):
    smtp_server.refused_temporarily = {"mandataire@ac-nice.fr"}
    with pytest.raises(MailUnavailable) as raised:
        SMTPMailer(smtp_server.url).send(_message())
    assert not raised.value.uncertain and "451" in str(raised.value)


class DiesAfterSendingTwo(DiesAfterSending):
    """The process dies once the server has accepted the second message of a batch."""

    sent = 0

    def send(self, message: EmailMessage) -> None:
        self.mailer.send(message)
        self.sent += 1
        if self.sent == 2:
            raise WorkerKilled


def test_a_worker_dying_midway_through_a_batch_sends_each_email_once(
    make_runtime, smtp_server: SMTPServer, clock, ad
):
    """The emails of a batch are all marked handed before the first goes out: after a
    death midway, the ones the relay reports finish without a copy, and the one never
    handed over waits out the report's wait before it goes (late, never twice)."""
    rt = make_runtime(WAIT)
    invited = [start_invitation(rt.engine, ad) for _ in range(3)]
    step_ids = [step_id for _, step_id, _ in invited]
    addresses = [mandataire.email for _, _, mandataire in invited]
    real, rt.mailer = rt.mailer, DiesAfterSendingTwo(rt.mailer)
    with pytest.raises(WorkerKilled):
        run_steps(rt, step_ids)
    rt.mailer = real
    assert [len(smtp_server.to(a)) for a in addresses] == [1, 1, 0]
    for case_id, _, _ in invited[:2]:
        _report(rt, _email(rt, case_id), MailEventType.DELIVERED, clock)

    clock.advance(rt.engine.timing.run_lease + timedelta(seconds=1))
    run_steps(rt, step_ids)
    assert [_row(rt, Step, i).status for i in step_ids] == ["done", "done", "pending"]
    assert _row(rt, Step, step_ids[2]).last_error == UNCERTAIN
    while (step := _row(rt, Step, step_ids[2])).status == "pending":
        clock.advance(step.not_before - clock.now())
        run_steps(rt, [step_ids[2]])
    assert [len(smtp_server.to(a)) for a in addresses] == [1, 1, 1]
    assert [_row(rt, Case, case_id).state for case_id, _, _ in invited] == ["invited"] * 3
