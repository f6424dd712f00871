"""Swan's OAuth2 project token, kept per process: Swan gives no refresh token, so a new
one is asked for shortly before the old one expires, by one thread for all."""

from __future__ import annotations

import threading
from collections.abc import Callable

#: Renew this long before Swan's expiry (capped at half the lifetime of short tokens).
TOKEN_MARGIN_SECONDS = 60.0


class TokenCache:
    """One project token per process, shared by its threads: a lock makes the threads
    that need one at the same moment wait for a single request."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], clock: Callable[[], float]):
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._refresh()
            assert self._token is not None
            return self._token

    def renew(self, refused: str) -> str:
        """A fresh token after ``refused`` was answered 401 (unless another thread
        already replaced it)."""
        with self._lock:
            if self._token == refused or self._token is None:
                self._refresh()
            assert self._token is not None
            return self._token

    def _refresh(self) -> None:
        token, expires_in = self._fetch()
        self._token = token
        self._renew_at = self._clock() + expires_in - min(TOKEN_MARGIN_SECONDS, expires_in / 2)
