"""The scheduler loop: a tick every few seconds (timers, lost steps, SLA), and between
ticks, when asked, a quicker look for steps written without being published."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from workflows.engine.engine import Engine
from workflows.engine.scheduling import BATCH, recover_steps, tick

log = logging.getLogger(__name__)


class Scheduler:
    """Ticks until stopped; errors of one tick are logged and the next tick goes on.

    ``steps_interval`` (embedded mode): every so many seconds between two ticks, publish
    the steps that are due, such as those a CLI command wrote without a broker consumer,
    so that they run within a second or two rather than at the next tick."""

    def __init__(
        self, engine: Engine, interval: float, steps_interval: float | None = None
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.steps_interval = steps_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        log.info(
            "scheduler started", extra={"interval": self.interval, "steps": self.steps_interval}
        )
        period = min(self.interval, self.steps_interval or self.interval)
        next_tick = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.interval
                self._guarded(self._tick)
            else:
                self._guarded(self._recover_steps)
            self._stop.wait(min(period, max(0.0, next_tick - time.monotonic())))

    def _tick(self) -> None:
        report = tick(self.engine)
        if report.timers_fired or report.steps_republished:
            log.info(
                "scheduler tick",
                extra={"timers": report.timers_fired, "steps": report.steps_republished},
            )

    def _recover_steps(self) -> None:
        """Only the due steps, as the tick does them (a read finds none most of the time)."""
        while recover_steps(self.engine) >= BATCH:
            pass

    @staticmethod
    def _guarded(work: Callable[[], None]) -> None:
        try:
            work()
        except Exception:
            log.exception("scheduler tick failed; retrying at the next one")

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
