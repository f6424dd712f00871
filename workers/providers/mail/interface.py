"""What a mail provider does: deliver one message, or say why not."""

from __future__ import annotations

from email.message import Message
from typing import Protocol


class Mailer(Protocol):
    #: ``stored`` (sandbox) or ``sent`` (handed to a real server): the emails' status.
    delivered_status: str

    def send(self, message: Message) -> None:
        """Deliver or raise :class:`MailRefused` / :class:`MailUnavailable`."""
