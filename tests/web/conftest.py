"""The portal under test: coops brought to each stage of the checklist through the
engine (with the real worker), mandataire and staff sessions, reading the pages."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests import factories
from web.auth import principal_for
from workflows.engine.engine import Actor
from workflows.models import AD, Case, Mandataire, StaffUser, Step, StepStatus
from workflows.processes.space_check.coop_details import space_case

SYSTEM = Actor.system("test")
#: The stages of a coop, in order, as the checklist tests name them.
STAGES = ("invited", "active", "problem_reported", "confirmed")
PROBLEM = "Ce n'est pas notre école : la coopérative affichée est celle de l'école voisine."
#: The smallest file that starts like a PNG (the portal checks the signature only).
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@dataclass
class PortalCoop:
    """A coop, its mandataire (with an account) and its cases' ids."""

    coop_id: int
    mandataire_id: int
    name: str
    affiliation_number: str
    email: str
    invitation_id: int
    space_id: int | None


def text(response: Any) -> str:
    """The page as a reader sees its characters (``'`` rather than ``&#39;``, a space
    rather than the non-breaking one of French typography)."""
    return html.unescape(response.get_data(as_text=True)).replace("\u00a0", " ")


def form_value(page: str, name: str) -> str:
    """The value of the hidden input ``name`` of the page."""
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} in the page"
    return match.group(1)


def checklist_line(page: str, process: str) -> str:
    """The text of the checklist line of ``process``."""
    match = re.search(rf'<li [^>]*data-process="{process}">(.*?)</li>', page, re.S)
    assert match, f"no checklist line for {process}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def settle(runtime: Any, timeout: float = 30.0) -> None:
    """Wait until the worker has run every step queued so far: ``runtime.join`` alone can
    return while a message is between Redis and the worker's own queue."""
    deadline = time.monotonic() + timeout
    busy = (StepStatus.PENDING.value, StepStatus.RUNNING.value)
    while True:
        runtime.join()
        with runtime.db.read() as session:
            left = session.scalar(
                select(func.count()).select_from(Step).where(Step.status.in_(busy))
            )
        if not left:
            return
        assert time.monotonic() < deadline, f"{left} étape(s) toujours en attente"
        time.sleep(0.01)


def log_in_mandataire(app: Flask, client: FlaskClient, mandataire_id: int) -> None:
    """A mandataire's session without the cost of argon2 (the login has its own tests)."""
    rt = app.extensions["coopflow"]
    with app.app_context(), rt.db.read() as session:
        mandataire = session.get(Mandataire, mandataire_id)
        user_id = principal_for(mandataire).get_id()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True


def log_in_staff(client: FlaskClient, staff_id: int) -> None:
    app = client.application
    with app.app_context(), app.extensions["coopflow"].db.read() as session:
        user_id = principal_for(session.get(StaffUser, staff_id)).get_id()  # with its stamp
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True


@pytest.fixture
def make_coop(runtime: Any, ad: AD) -> Callable[..., PortalCoop]:
    """A coop of ``ad`` brought to ``stage`` (see ``STAGES``) by the engine, its steps
    run by the worker (the summary PDF of a confirmed check included)."""

    def make(stage: str = "active", *, of: AD | None = None) -> PortalCoop:
        assert stage in STAGES, stage
        target = of or ad
        coop = factories.CoopFactory(ad=target)
        person = factories.MandataireFactory(
            coop=coop,
            email=f"mandataire.{coop.id}@{target.academic_domains[0]}",
            password_hash="argon2-hash-of-the-tests",
        )
        me = Actor.mandataire(person)
        with runtime.engine.transaction() as tx:
            case = tx.start("invitation", coop.id, actor=SYSTEM, data={"mandataire_id": person.id})
            tx.fire(case.id, "invite", actor=SYSTEM)
            # Leaving ``sending`` in the same transaction drops the send step: no email.
            tx.fire(case.id, "sent", actor=SYSTEM)
            if stage != "invited":
                tx.fire(case.id, "set_password", actor=me)
                tx.fire(case.id, "first_login", actor=me)
            invitation_id = case.id
        space_id = None
        with runtime.db.read() as session:
            found = space_case(session, coop.id)
            space_id = found.id if found else None
        if stage in ("problem_reported", "confirmed"):
            assert space_id is not None
            with runtime.engine.transaction() as tx:
                if stage == "problem_reported":
                    tx.fire(space_id, "report_problem", actor=me, payload={"message": PROBLEM})
                else:
                    tx.fire(space_id, "confirm", actor=me)
        settle(runtime)
        return PortalCoop(
            coop.id,
            person.id,
            coop.name,
            coop.affiliation_number,
            person.email,
            invitation_id,
            space_id,
        )

    return make


def case_row(runtime: Any, case_id: int) -> Case:
    with runtime.db.read() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case
