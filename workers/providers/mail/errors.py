"""Errors of the provider adapters, split into permanent and retryable at the boundary."""

from __future__ import annotations

from workflows.engine.errors import PermanentStepError, TransientStepError


class MailRefused(PermanentStepError):
    """The mail server refused the recipient for good (5xx): the address bounces."""


class MailUnavailable(TransientStepError):
    """The mail server cannot be reached or answered 4xx: try again later.

    ``uncertain``: the connection broke while the message itself was being handed over,
    so the server may have accepted it (its answer never came back)."""

    def __init__(self, message: str, *, uncertain: bool = False) -> None:
        super().__init__(message)
        self.uncertain = uncertain


class MailDeferred(MailUnavailable):
    """The mail server put off this recipient (4xx on ``RCPT``): the others may go."""


class MailRejected(PermanentStepError):
    """The mail server refused the message itself (5xx on sender or content)."""
