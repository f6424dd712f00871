"""A real SMTP server on loopback (aiosmtpd) for tests: it keeps the messages it
accepts and refuses the recipients it is told to refuse, like a real mail server."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Handler:
    """Keeps every message; refuses the addresses the server lists."""

    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, _smtp: SMTP, _session: Session, envelope: Envelope, address: str, _options: list
    ) -> str:
        if address.lower() in self.server.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address.lower() in self.server.refused_temporarily:
            return "451 4.3.0 Service temporairement indisponible, réessayez plus tard"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _smtp: SMTP, _session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.messages.append(message)  # type: ignore[arg-type]
            self.server.peers.append(_session.peer)
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self) -> None:
        self.port = _free_port()
        self.messages: list[EmailMessage] = []
        self.refused: set[str] = set()
        #: Answered 451 (try later) instead of accepted.
        self.refused_temporarily: set[str] = set()
        #: The client's address of each message: one per connection it came through.
        self.peers: list[object] = []
        self.lock = threading.Lock()
        self._controller = Controller(Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]
