"""Entry module of ``dramatiq coopflow.worker_entry``: builds the runtime and its actor."""

from __future__ import annotations

from coopflow.config import load_settings
from coopflow.observability import configure_logging
from coopflow.runtime import build_runtime

configure_logging(load_settings().log_level)

runtime = build_runtime()
broker = runtime.broker
