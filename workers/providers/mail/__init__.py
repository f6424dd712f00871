"""The mail provider: the interface (:class:`Mailer`), the sandbox that stores messages
and the real SMTP client, and their errors (permanent or retryable).

Chosen by configuration: ``COOPFLOW_SMTP_URL`` unset means the sandbox, whose messages
are only kept in the ``emails`` table and shown in the back-office.
"""

from __future__ import annotations

from workers.providers.mail.client import SMTPMailer
from workers.providers.mail.interface import Mailer
from workers.providers.mail.sandbox import SandboxMailer

__all__ = ["Mailer", "SMTPMailer", "SandboxMailer", "make_mailer"]


def make_mailer(smtp_url: str | None) -> Mailer:
    return SMTPMailer(smtp_url) if smtp_url else SandboxMailer()
