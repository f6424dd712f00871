"""The leases and backoff of step rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

#: A step not picked up within this lease is published again by the scheduler.
PUBLISH_LEASE = timedelta(minutes=5)
#: How long a running step owns its row before another delivery may take it over.
RUN_LEASE = timedelta(minutes=2)
#: Bounded exponential backoff: 10 s, 20 s, 40 s... never more than 10 minutes.
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_MAX = timedelta(minutes=10)


@dataclass(frozen=True)
class StepTiming:
    """The leases and backoff of step rows. The defaults are production's; the settings
    (``COOPFLOW_STEP_*``) may shorten them, e.g. so that the fault-injection tests see
    a killed worker's step recovered within seconds rather than minutes."""

    run_lease: timedelta = RUN_LEASE
    publish_lease: timedelta = PUBLISH_LEASE
    backoff_base: timedelta = BACKOFF_BASE
    backoff_max: timedelta = BACKOFF_MAX
