"""The fault suite's mail server: an SMTP server on loopback that keeps every message,
can answer 451 to every recipient, and reports what it accepted like the production
relay (signed ``delivered`` events to ``/webhooks/mail``, posted until answered 200)."""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.smtp import Handler as SMTPHandler
from tests.smtp import SMTPServer
from web.webhooks.mail import SIGNATURE_HEADER, signature


class _Handler(SMTPHandler):
    """The tests' handler (keeps every message), plus the outage and the reports."""

    server: FaultySMTPServer

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if self.server.unavailable:
            self.server.temporary_failures += 1
            return "451 4.3.0 Service temporairement indisponible, réessayez plus tard"
        return await super().handle_RCPT(smtp, session, envelope, address, options)

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        answer = await super().handle_DATA(smtp, session, envelope)
        if self.server.reports is not None:
            with self.server.lock:
                message = self.server.messages[-1]
            self.server.reports.delivered(str(message["Message-ID"]), str(message["To"]))
        return answer


class FaultySMTPServer(SMTPServer):
    """The loopback SMTP server of the tests, which can answer 451 to every recipient,
    and which reports what it accepted like the production relay (``reports``)."""

    def __init__(self) -> None:
        super().__init__()
        self.unavailable = False
        self.temporary_failures = 0
        self.reports: RelayReports | None = None
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def stop(self) -> None:
        super().stop()
        if self.reports is not None:
            self.reports.stop()


class RelayReports:
    """The relay's delivery reports: a ``delivered`` event per accepted message, posted
    signed to coopflow's ``/webhooks/mail`` soon after, and posted again until coopflow
    answers 200 (a web server restarting or a database down only delays them)."""

    RETRY_SECONDS = 0.5

    def __init__(self, web_url: str, secret: str) -> None:
        self.url = web_url + "/webhooks/mail"
        self.secret = secret
        self.pending: queue.Queue[bytes | None] = queue.Queue()
        self.posted = 0
        self._thread = threading.Thread(target=self._post_all, daemon=True)
        self._thread.start()

    def delivered(self, message_id: str, recipient: str) -> None:
        document = {
            "eventId": f"delivered:{message_id}",
            "eventType": "delivered",
            "eventDate": datetime.now(UTC).isoformat(),
            "messageId": message_id,
            "recipient": recipient,
        }
        self.pending.put(json.dumps(document).encode())

    def stop(self) -> None:
        self.pending.put(None)
        self._thread.join(timeout=5)

    def _post_all(self) -> None:
        while (body := self.pending.get()) is not None:
            while not self._post(body):
                time.sleep(self.RETRY_SECONDS)
            self.posted += 1

    def _post(self, body: bytes) -> bool:
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(self.secret, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return int(answer.status) == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
