"""Errors of the provider adapters, split into permanent and retryable at the boundary."""

from __future__ import annotations

from workflows.errors import PermanentStepError, TransientStepError


class MailRefused(PermanentStepError):
    """The mail server refused the recipient for good (5xx): the address bounces."""


class MailUnavailable(TransientStepError):
    """The mail server cannot be reached or answered 4xx: try again later."""


class MailRejected(PermanentStepError):
    """The mail server refused the message itself (5xx on sender or content)."""
