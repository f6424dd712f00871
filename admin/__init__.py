"""The back-office at ``/admin`` (Flask-Admin): cases, emails, coops, the CSV import.

Staff log in at ``/admin/connexion``; every page is scoped to their AD (national: all).
The list views read through a scoped session of their own; every change goes through
``runtime().engine.transaction()``, which locks, audits and publishes.
"""

from __future__ import annotations

import warnings

from flask import Blueprint, Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from sqlalchemy.orm import scoped_session, sessionmaker

from admin import bulk, dashboard, export, verification
from admin.cases import CaseView
from admin.coops import CoopView
from admin.emails import EmailView
from admin.home import HomeView
from admin.imports import ImportView
from admin.process_page import ProcessView
from admin.processes import affiliation_statement, transfer_letters
from admin.processes.affiliation_prices import PriceListView
from admin.tasks import TaskView
from web.runtime import Runtime
from workflows.formatting import date_fr, datetime_fr
from workflows.models import Coop, Email

#: Where ``admin/templates`` is found (Flask-Admin looks for its own in its package).
templates = Blueprint(
    "coopflow_admin",
    __name__,
    template_folder="templates",
    static_folder="static/backoffice",
    static_url_path="/admin/ressources",
)


def init_admin(app: Flask) -> None:
    """Attach the back-office to ``app`` (after ``web`` registered its extensions)."""
    rt: Runtime = app.extensions["coopflow"]
    session = scoped_session(sessionmaker(bind=rt.db.engine, autoflush=False))

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        session.remove()

    app.register_blueprint(templates)
    app.jinja_env.filters.setdefault("date_fr", date_fr)
    app.jinja_env.filters.setdefault("datetime_fr", datetime_fr)

    admin = Admin(
        app,
        name="OCCE · Back-office",
        index_view=HomeView(session),
        theme=Bootstrap4Theme(base_template="coopflow_admin/base.html", fluid=True),
    )
    admin.add_view(
        CaseView(session, rt.engine.definitions, name="Dossiers", endpoint="cases", url="dossiers")
    )
    admin.add_view(TaskView(session, name="Tâches", endpoint="tasks", url="taches"))
    admin.add_view(
        ProcessView(
            session, rt.engine.definitions, name="Processus", endpoint="processus", url="processus"
        )
    )
    with warnings.catch_warnings():
        # Flask-Admin 2 prefers a Flask-SQLAlchemy object; coopflow has a plain session.
        warnings.filterwarnings("ignore", "Passing a session object", DeprecationWarning)
        admin.add_view(EmailView(Email, session, name="Emails", endpoint="emails", url="emails"))
        admin.add_view(
            CoopView(Coop, session, name="Coopératives", endpoint="coops", url="cooperatives")
        )
    admin.add_view(
        ImportView(session, name="Importer des coopératives", endpoint="import", url="importer")
    )
    admin.add_view(
        PriceListView(session, name="Tarifs d'adhésion", endpoint="prices", url="tarifs")
    )
    export.register(admin, session)
    dashboard.register(admin, session)
    bulk.register(admin, session)
    affiliation_statement.register(admin, session)
    transfer_letters.register(admin, session)
    verification.register(admin, session)
