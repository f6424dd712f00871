"""The leases and backoff of step rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

#: A step published and not picked up within this lease is published again by the
#: scheduler; a step written by a process that does not publish is due for it at once.
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

    def unpublished(self) -> StepTiming:
        """The timing of a process that publishes nothing: no message is on its way, so
        its steps are due for the scheduler at once (a publish lease of zero)."""
        return replace(self, publish_lease=timedelta(0))
