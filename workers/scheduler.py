"""The scheduler loop: a tick every few seconds (timers, lost steps, SLA)."""

from __future__ import annotations

import logging
import threading

from workflows.engine.engine import Engine
from workflows.engine.scheduling import tick

log = logging.getLogger(__name__)


class Scheduler:
    """Ticks until stopped; errors of one tick are logged and the next tick goes on."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        log.info("scheduler started", extra={"interval": self.interval})
        while not self._stop.is_set():
            try:
                report = tick(self.engine)
                if report.timers_fired or report.steps_republished:
                    log.info(
                        "scheduler tick",
                        extra={"timers": report.timers_fired, "steps": report.steps_republished},
                    )
            except Exception:
                log.exception("scheduler tick failed; retrying at the next one")
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
