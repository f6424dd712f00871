"""The back-office under test: a real app from the ``settings`` fixture (no worker),
staff of two ADs, and invitation cases brought to the states the pages act on."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import joinedload

from coopflow.app import create_app
from coopflow.runtime import Runtime, build_runtime
from tests import factories
from web.auth import principal_for
from workflows.engine import steps
from workflows.engine.clock import MovableClock
from workflows.engine.engine import Actor
from workflows.models import AD, Case, Mandataire, StaffRole, StaffUser

_CSRF = re.compile(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The session's CSRF token, from any form of the page (prefixed forms included)."""
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def text(response: Any) -> str:
    """The page as a reader sees its characters (``'`` rather than ``&#39;``, a space
    rather than the non-breaking one of French typography)."""
    return html.unescape(response.get_data(as_text=True)).replace("\u00a0", " ")


@pytest.fixture
def app(settings: Any, clock: MovableClock) -> Iterator[Flask]:
    """The back-office on the test's movable clock (timers, ages, due dates)."""
    flask_app = create_app(settings, runtime=build_runtime(settings, clock=clock))
    flask_app.config["TESTING"] = True
    yield flask_app
    flask_app.extensions["coopflow"].stop()


@pytest.fixture
def rt(app: Flask) -> Runtime:
    return app.extensions["coopflow"]  # type: ignore[no-any-return]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ad50(factory_session: object) -> AD:
    return factories.ADFactory(code="AD50", academic_domains=["ac-normandie.fr", "ac-caen.fr"])


@pytest.fixture
def staff06(ad: AD) -> Any:
    return factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")


@pytest.fixture
def national(factory_session: object) -> Any:
    return factories.StaffFactory(
        role=StaffRole.NATIONAL.value, ad=None, full_name="Nadia Nationale"
    )


@pytest.fixture
def readonly06(ad: AD) -> Any:
    return factories.StaffFactory(ad=ad, role=StaffRole.READONLY.value, full_name="Léo Lecteur")


def log_in(client: FlaskClient, user: Any) -> None:
    """A staff session without the cost of argon2 (the login itself has its own tests)."""
    app = client.application
    model = Mandataire if isinstance(user, Mandataire) else StaffUser
    with app.app_context(), app.extensions["coopflow"].db.read() as db:
        user_id = principal_for(db.get(model, user.id)).get_id()  # with its stamp
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True


@pytest.fixture
def make_case(rt: Runtime, ad: AD) -> Callable[..., Case]:
    """An invitation case for a new coop of ``ad`` (AD06 by default), brought to ``state``:
    ``created``, ``expired``, ``bounced`` or ``failed`` (its send step failed for good)."""

    def make(state: str = "expired", *, of: AD | None = None, email: str | None = None) -> Case:
        target = of or ad
        domain = target.academic_domains[0]
        coop = factories.CoopFactory(ad=target)
        person = factories.MandataireFactory(
            coop=coop, email=email or f"mandataire.{coop.id}@{domain}"
        )
        system = Actor.system("test")
        with rt.engine.transaction() as tx:
            case = tx.start("invitation", coop.id, actor=system, data={"mandataire_id": person.id})
            case_id = case.id
            if state != "created":
                tx.fire(case_id, "invite", actor=system)
        if state == "expired":
            with rt.engine.transaction() as tx:
                tx.fire(case_id, "sent", actor=system)
                tx.fire(case_id, "expire", actor=system)
        elif state == "bounced":
            with rt.engine.transaction() as tx:
                tx.fire(
                    case_id,
                    "bounce",
                    actor=system,
                    payload={"email": person.email, "error": "550 boîte inconnue"},
                )
        elif state == "failed":
            with rt.db.read() as session:
                step_id = session.get(Case, case_id).steps[-1].id
            claimed = steps.claim(rt.engine, step_id)
            assert claimed is not None
            steps.fail(
                rt.engine,
                claimed,
                "SMTP injoignable",
                "Traceback (most recent call last):\n  boom",
                permanent=True,
            )
        with rt.db.read() as session:
            return session.get(Case, case_id, options=[joinedload(Case.coop)])

    return make
