"""The security tests' world: the real app with its worker (``tests/conftest.py``), a
coop of each stage (``tests/web/conftest.py``), staff of the coop's AD, and the helpers
that read pages and issue real links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from tests import factories
from tests.helpers import csrf_token
from tests.web.conftest import (
    PortalCoop,
    log_in_mandataire,
    log_in_staff,
    make_coop,
    settle,
    text,
)
from web.auth import RESET_PURPOSE
from workers.providers.swan.interface import CardAddress, CardOrder, NewMember
from workflows.engine import bulk
from workflows.engine.engine import Actor
from workflows.models import AD, Base, Coop, Document, Email, PriceItem, Step

__all__ = ["make_coop"]  # the fixture, for the tests of this package


@pytest.fixture
def staff(ad: AD) -> Any:
    """A staff member of the coops' AD (may act: neither national nor read-only)."""
    return factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")


#: Pages before a login: sent by a visitor without a session.
#: Swan's stand-in page needs no login, like Swan's own: its random membership id is the key.
ANONYMOUS = ("/connexion", "/admin/connexion", "/mot-de-passe-perdu", "/invitation/", "/sandbox/")


def portal_client(app: Flask, coop: PortalCoop) -> FlaskClient:
    client = app.test_client()
    log_in_mandataire(app, client, coop.mandataire_id)
    return client


def staff_client(app: Flask, staff_id: int) -> FlaskClient:
    client = app.test_client()
    log_in_staff(client, staff_id)
    return client


def token_of(client: FlaskClient, path: str) -> str:
    """The session's CSRF token, read from a page the client may see."""
    return csrf_token(text(client.get(path)))


def issue_link(runtime: Any, coop: PortalCoop, purpose: str, valid: timedelta) -> str:
    """A real link token of ``purpose`` for the coop's mandataire, as an email carries."""
    with runtime.engine.transaction() as tx:
        token = runtime.links.issue(
            tx.session,
            purpose=purpose,
            mandataire_id=coop.mandataire_id,
            case_id=coop.invitation_id,
            now=tx.now,
            expires_at=tx.now + valid,
        )
        return str(runtime.links.dumps(token))


def database_rows(runtime: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what « nothing written » compares."""
    with runtime.db.read() as session:
        return {
            table.name: sorted(
                (tuple(map(repr, row)) for row in session.execute(select(table)).all()),
            )
            for table in Base.metadata.sorted_tables
        }


@dataclass
class World:
    """Three sessions (a visitor, the coop's mandataire, its AD's staff) and the values
    of every route parameter: ids of the coop's own objects, live links."""

    coop: PortalCoop
    clients: dict[str, FlaskClient]
    values: dict[str, Any]


@pytest.fixture
def world(app, runtime, make_coop, staff) -> World:
    mine = make_coop("confirmed")  # with its summary PDF, for the documents' routes
    invited = make_coop("invited")
    with runtime.engine.transaction() as tx:
        case_id = mine.invitation_id
        task = tx.open_task(
            tx.lock(case_id),
            kind="manual",
            title="Appeler l'école",
            due_at=tx.now + timedelta(days=3),
            created_by=Actor.system("test"),
        )
        email = Email(
            idempotency_key=f"csrf-{case_id}",
            kind="invitation",
            case_id=case_id,
            coop_id=mine.coop_id,
            to_address=mine.email,
            subject="Invitation",
            text_body="texte",
            html_body="<p>html</p>",
            message_id=f"<csrf-{case_id}@coopflow>",
            status="stored",
        )
        tx.session.add(email)
        tx.session.flush()
        step_id = tx.session.scalars(select(Step.id).where(Step.case_id == case_id)).first()
        job = bulk.create(
            tx,
            staff_id=staff.id,
            action="assign",
            params={"assignee_id": None},
            case_ids=[case_id],
            comment="jeton CSRF",
            description="test",
        )
        tx.session.flush()
        document_id = tx.session.scalars(
            select(Document.id).where(Document.coop_id == mine.coop_id)
        ).first()
        # An item of the AD's price list (« Tarifs d'adhésion »: /admin/tarifs/<item_id>/…),
        # of last year: this year's list is the affiliation's tests' own.
        coop = tx.session.get(Coop, mine.coop_id)
        assert coop is not None
        item = PriceItem(
            ad_id=coop.ad_id,
            school_year=2025,
            code="forfait",
            kind="forfait",
            label="Forfait",
            price_cents=800,
        )
        tx.session.add(item)
        tx.session.flush()
        values = {
            "item_id": item.id,
            "document_id": document_id,
            "coop_id": mine.coop_id,
            "case_id": case_id,
            "step_id": step_id or 1,
            "task_id": task.id,
            "email_id": email.id,
            "job_id": job.id,
            "trigger": "resend",
            "process": "invitation",
            "fmt": "csv",
            "export_type": "csv",
            "filename": "progress.js",
        }
    # Outside the transaction above: the sandbox writes with a session of its own.
    member = NewMember(None, mine.email, "Hélène", "Dupré", coop_ref=mine.affiliation_number)
    values["membership_id"] = runtime.swan.add_member(member).id
    values["card_id"] = runtime.swan.order_card(
        CardOrder(
            values["membership_id"],
            CardAddress("4 avenue Thiers", "Nice", "06000"),
            "",
            "http://coopflow.test/mon-espace/carte",
        )
    ).id
    invitation = issue_link(runtime, invited, "invitation", timedelta(days=7))
    reset = issue_link(runtime, mine, RESET_PURPOSE, timedelta(hours=1))
    settle(runtime)
    return World(
        coop=mine,
        clients={
            "visitor": app.test_client(),
            "mandataire": portal_client(app, mine),
            "staff": staff_client(app, staff.id),
        },
        values={**values, "token": invitation, "reset": reset},
    )


def url_of(rule: Rule, values: dict[str, Any]) -> str:
    """The rule's URL with ``values``; a parameter without a value fails the test."""
    unknown = set(rule.arguments) - set(values)
    if unknown:
        pytest.fail(
            f"La route {rule.rule} a un paramètre que ce test ne connaît pas "
            f"({', '.join(sorted(unknown))}) : "
            "donnez-lui une valeur dans le fixture ``world`` (tests/security/conftest.py)."
        )
    return rule.build({k: values[k] for k in rule.arguments})[1]


def values_for(rule: Rule, world: World) -> dict[str, Any]:
    """The token parameter: an invitation link on /invitation, a reset link elsewhere."""
    if "token" in rule.arguments and rule.rule.startswith("/mot-de-passe-perdu"):
        return {**world.values, "token": world.values["reset"]}
    return world.values


def who_for(rule: Rule) -> str:
    """Who could use the route: a visitor, the mandataire or the AD's staff."""
    if rule.rule.startswith(ANONYMOUS):
        return "visitor"
    return "staff" if rule.rule.startswith("/admin") else "mandataire"
