"""``dramatiq bench.b1_engine_worker``: coopflow's worker with B1's process added."""

from __future__ import annotations

from bench import pipeline
from coopflow.runtime import build_runtime
from workers.handlers import HANDLERS
from workflows.processes import DEFINITIONS

HANDLERS.update(pipeline.HANDLERS)
runtime = build_runtime(definitions={**DEFINITIONS, pipeline.NAME: pipeline.DEFINITION})
broker = runtime.broker
