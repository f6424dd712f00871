"""``dramatiq bench.b1_engine_worker``: coopflow's worker (as ``coopflow.worker_entry``: its
logging set up from the settings) with B1's process added."""

from __future__ import annotations

from bench import pipeline
from coopflow.config import load_settings
from coopflow.observability import configure_logging
from coopflow.runtime import build_runtime
from workers.steps import PROCESS_STEPS
from workflows.processes import DEFINITIONS

configure_logging(load_settings().log_level)
PROCESS_STEPS[pipeline.NAME] = pipeline
runtime = build_runtime(definitions={**DEFINITIONS, pipeline.NAME: pipeline.DEFINITION})
broker = runtime.broker
