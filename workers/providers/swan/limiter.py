"""Swan's request budget: 2,000 requests per 5 minutes (Swan's documented default, per
IP and per endpoint, past which it answers HTTP 429), shared by every worker process.

A sliding window: each request granted leaves its time in the window, a request is
granted while fewer than ``limit`` times lie in the last ``period_seconds``, and a
refused one learns how long until the oldest time leaves the window. The client turns a
refusal into :class:`~workflows.engine.errors.StepPostponed`: the step waits without
using an attempt, and a bulk retry of thousands of cases trickles out at Swan's pace
instead of meeting a storm of 429s.

- :class:`RedisBudget` (distributed mode): the window is a Redis sorted set updated by
  one Lua script, so the check and the record are atomic across processes.
- :class:`LocalBudget` (embedded mode, ``stub://`` or no Redis): the same rule in memory,
  for the one process there is.

Why not ``dramatiq.rate_limits.WindowRateLimiter``: it counts in whole seconds with one
Redis key per second (300 keys read per request for a 5-minute window, in a WATCH loop
that retries under contention), reads ``time.time()`` itself (tests could not move
time) and does not say when the next unit frees, which the postponement needs.

Times come from ``clock`` (wall-clock seconds, the same for every process on NTP-synced
hosts; a second of drift is nothing against a 5-minute window)."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Protocol

import redis

from workers.providers.swan.errors import SwanUnavailable

#: Swan's documented default (developers/index.mdx « Rate limiting »).
DEFAULT_LIMIT = 2000
DEFAULT_PERIOD_SECONDS = 300.0
REDIS_KEY = "coopflow:swan:requests"
#: Redis answers in milliseconds; past this the budget is « unavailable », not the step hung.
REDIS_TIMEOUT_SECONDS = 2.0


class Budget(Protocol):
    limit: int
    period_seconds: float

    def take(self) -> float:
        """Take one unit: ``0.0`` when granted, else the seconds until one frees (nothing
        taken)."""
        ...


class LocalBudget:
    """The window in this process's memory, shared by its threads."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        period_seconds: float = DEFAULT_PERIOD_SECONDS,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1 or period_seconds <= 0:
            raise ValueError("le quota de requêtes Swan doit être positif")
        self.limit = limit
        self.period_seconds = period_seconds
        self._clock = clock
        self._granted: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> float:
        with self._lock:
            now = self._clock()
            while self._granted and self._granted[0] <= now - self.period_seconds:
                self._granted.popleft()
            if len(self._granted) < self.limit:
                self._granted.append(now)
                return 0.0
            return max(self._granted[0] + self.period_seconds - now, 0.001)


#: KEYS[1] the window; ARGV: now, period, limit, a unique member. Returns {1, "0"} when
#: granted, {0, "<seconds to wait>"} otherwise (a string: Lua numbers returned to Redis
#: are truncated to integers).
_TAKE = """
local now = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(period * 1000))
  return {1, '0'}
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + period - now)}
"""


class RedisBudget:
    """The window in Redis, shared by every process that names the same ``key``."""

    def __init__(
        self,
        url: str,
        limit: int = DEFAULT_LIMIT,
        period_seconds: float = DEFAULT_PERIOD_SECONDS,
        *,
        key: str = REDIS_KEY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1 or period_seconds <= 0:
            raise ValueError("le quota de requêtes Swan doit être positif")
        self.limit = limit
        self.period_seconds = period_seconds
        self.key = key
        self._clock = clock
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._take = self._redis.register_script(_TAKE)

    def take(self) -> float:
        now = self._clock()
        try:
            granted, wait = self._take(
                keys=[self.key],
                args=[repr(now), repr(self.period_seconds), self.limit, uuid.uuid4().hex],
            )
        except redis.RedisError as exc:
            # Without the shared count nobody knows what the other workers sent: wait
            # and retry rather than risk the 429 storm the budget is there to prevent.
            raise SwanUnavailable(
                f"compteur des requêtes Swan (Redis) injoignable : {exc}"
            ) from exc
        return 0.0 if int(granted) else max(float(wait), 0.001)


def make_budget(
    redis_url: str | None,
    limit: int = DEFAULT_LIMIT,
    period_seconds: float = DEFAULT_PERIOD_SECONDS,
) -> Budget:
    """Redis when the deployment has one (the broker's), else this process's memory."""
    if redis_url is None or redis_url.startswith("stub:"):
        return LocalBudget(limit, period_seconds)
    if redis_url.startswith(("redis:", "rediss:", "unix:")):
        return RedisBudget(redis_url, limit, period_seconds)
    raise ValueError(f"adresse Redis du quota Swan non reconnue : {redis_url!r}")


def wait_seconds(wait: float) -> int:
    """The wait as shown to people: whole seconds, at least one."""
    return max(1, math.ceil(wait))
