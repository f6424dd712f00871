"""``dramatiq bench.b1_baseline_worker``: B1's baseline, three bare actors on the same
broker set-up (``workers.broker.make_broker``) and the same database access."""

from __future__ import annotations

from bench import pipeline
from coopflow.config import load_settings
from workers.broker import make_broker
from workflows.engine.db import Database

settings = load_settings()
broker = make_broker(settings.broker_url)
db = Database(settings.database_url)
first = pipeline.declare_baseline(broker, db)
