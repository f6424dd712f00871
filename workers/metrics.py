"""The workers' own metric: how long each run of a step takes."""

from __future__ import annotations

import threading
from typing import Any

#: Buckets of ``coopflow_step_duration_seconds``: a step renders a PDF or calls a provider.
STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_step_duration: Any = None
_step_duration_lock = threading.Lock()


def step_duration() -> Any:
    """The ``coopflow_step_duration_seconds{process,step,outcome}`` histogram.

    Created on first use, not at import: in a ``dramatiq`` worker process the Prometheus
    middleware sets ``PROMETHEUS_MULTIPROC_DIR`` at process boot, and ``prometheus_client``
    picks its multiprocess mode when first imported. There the values go to that
    directory's files and Dramatiq's exposition server (port 9191) serves them with its
    own metrics; in ``coopflow serve`` they stay in memory and ``/metrics`` serves them.
    Registered in no registry: whoever exposes it adds it to theirs.
    """
    global _step_duration
    with _step_duration_lock:
        if _step_duration is None:
            from prometheus_client import Histogram

            _step_duration = Histogram(
                "coopflow_step_duration_seconds",
                "Time taken by one run of a step (handler and recording its outcome).",
                ["process", "step", "outcome"],
                buckets=STEP_BUCKETS,
                registry=None,
            )
        return _step_duration


def step_duration_if_used() -> Any:
    """The histogram if a step ran in this process, else ``None``."""
    return _step_duration
