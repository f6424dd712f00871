"""The application factory: the web layer and the back-office on one runtime."""

from __future__ import annotations

from flask import Flask

import web
from admin import init_admin
from coopflow.config import Settings, load_settings
from coopflow.runtime import Runtime, build_runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app; ``runtime`` is shared with in-process workers in ``coopflow serve``."""
    if runtime is None:
        runtime = build_runtime(settings or load_settings())
    app = Flask("web")
    web.init_app(app, runtime)
    init_admin(app)
    return app
