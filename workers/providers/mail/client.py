"""The real mail provider: an SMTP client (``COOPFLOW_SMTP_URL``)."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
import time
from email.message import Message
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from workers.providers.mail.errors import MailDeferred, MailRefused, MailRejected, MailUnavailable

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

SMTP_TIMEOUT = 15


class SMTPMailer:
    """SMTP client for ``smtp://[user:password@]host:port`` (``smtps://`` for TLS).

    Each worker thread keeps its connection between messages (a wave of invitations
    costs one connection per thread, not a TCP and TLS handshake and an EHLO per
    email); one idle for a while is checked with NOOP first, one that failed is dropped.
    """

    delivered_status = "sent"
    #: Past this idle time a kept connection is checked (servers close idle ones).
    CHECK_AFTER_SECONDS = 5.0

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError(f"COOPFLOW_SMTP_URL invalide : {url!r}")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self._kept = threading.local()

    def _connect(self) -> _SMTP | _SMTPSSL:
        if self.tls:
            context = ssl.create_default_context()
            smtp: _SMTP | _SMTPSSL = _SMTPSSL(
                self.host, self.port, timeout=SMTP_TIMEOUT, context=context
            )
        else:
            smtp = _SMTP(self.host, self.port, timeout=SMTP_TIMEOUT)
        if self.username:
            smtp.login(self.username, self.password or "")
        return smtp

    def _connection(self) -> _SMTP | _SMTPSSL:
        smtp: _SMTP | _SMTPSSL | None = getattr(self._kept, "smtp", None)
        if smtp is not None:
            idle = time.monotonic() - self._kept.used
            try:
                if idle < self.CHECK_AFTER_SECONDS or smtp.noop()[0] == 250:
                    return smtp
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        smtp = self._connect()
        self._kept.smtp = smtp
        self._kept.used = time.monotonic()
        return smtp

    def _drop(self) -> None:
        smtp = getattr(self._kept, "smtp", None)
        self._kept.smtp = None
        if smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.close()

    def send(self, message: Message) -> None:
        try:
            smtp = self._connection()
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise MailUnavailable(f"serveur de messagerie injoignable : {exc}") from exc
        smtp.handing_over = False
        try:
            smtp.send_message(message)
            self._kept.used = time.monotonic()
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            code, reply = next(iter(exc.recipients.values()))
            text = f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            if 400 <= code < 500:
                raise MailDeferred(f"refus temporaire : {text}") from exc
            raise MailRefused(text) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            text = f"{exc.smtp_code} {exc.smtp_error!r}"
            if 400 <= exc.smtp_code < 500:
                raise MailUnavailable(text) from exc
            raise MailRejected(text) from exc
        except Exception as exc:
            # Whatever broke (the network, or the message: say a Python error while
            # flattening it), this connection is not reused in an unknown state.
            self._drop()
            if not isinstance(exc, (TimeoutError, smtplib.SMTPException, OSError)):
                raise
            if smtp.handing_over:
                raise MailUnavailable(
                    f"connexion perdue pendant la remise du message : {exc}", uncertain=True
                ) from exc
            raise MailUnavailable(f"serveur de messagerie injoignable : {exc}") from exc


class _SMTP(smtplib.SMTP):
    """Knows whether the message itself went out: past ``DATA``, a broken connection
    leaves it unknown whether the server kept the message."""

    handing_over = False

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        self.handing_over = True
        return super().data(msg)


class _SMTPSSL(smtplib.SMTP_SSL, _SMTP):
    """The same over TLS (``SMTP_SSL`` does not define ``data``: :class:`_SMTP`'s)."""
