"""Swan's failures, split at the boundary into permanent and retryable."""

from __future__ import annotations

from workflows.engine.errors import PermanentStepError, TransientStepError


class SwanRejected(PermanentStepError):
    """Swan refused the request for good: a ``…Rejection`` payload (``code`` is its
    ``__typename``; ``fields`` the paths and messages of a ``ValidationRejection``), a
    GraphQL error about the request itself, bad credentials."""

    def __init__(self, message: str, *, code: str = "", fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.fields = fields


class SwanUnavailable(TransientStepError):
    """Swan did not answer usefully this time: HTTP 5xx, 429 (``retry_after`` seconds
    when it said), a timeout, a broken connection. ``uncertain``: the request may have
    reached Swan (a timeout after sending it)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, uncertain: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.uncertain = uncertain
