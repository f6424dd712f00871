"""The application factory: the web layer and the back-office on one runtime."""

from __future__ import annotations

from flask import Flask

import web
from admin import init_admin
from coopflow import house, swan_card_simulator, swan_simulator
from coopflow.config import Settings, load_settings
from coopflow.house import House
from coopflow.runtime import Runtime, build_runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app; ``runtime`` is shared with in-process workers in ``coopflow serve``."""
    if runtime is None:
        runtime = build_runtime(settings or load_settings())
    app = Flask("web")
    web.init_app(app, runtime)
    init_admin(app)
    if runtime.settings.swan_mode == "sandbox":  # its stand-in for Swan's page
        app.register_blueprint(swan_simulator.bp)
        app.register_blueprint(swan_card_simulator.bp)
    # The portal's pages exist now: the registries are checked against the app's routes.
    endpoints = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    house.check(House.of(runtime.engine.definitions), endpoints)
    return app
