"""Personal links (invitation, password reset) are never stored in an email's row, nor
shown to staff outside the sandbox, and a reset link never: the row holds a
placeholder, the link is put in when the message is handed to the mail server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from coopflow.app import create_app
from coopflow.runtime import build_runtime
from tests.helpers import invitation_link, start_invitation, text_body
from tests.web.conftest import log_in_staff, settle, text
from workflows.engine.engine import Actor
from workflows.links import MASKED
from workflows.models import Email

#: A signed token of a link (``payload.signature``), after its path.
SIGNED = re.compile(r"/(?:invitation|mot-de-passe-perdu)/[\w-]+\.[\w-]+")
PLACEHOLDER = re.compile(r"\[lien:(invitation|reset):\d+\]")


def _emails(rt, kind: str) -> list[Email]:
    with rt.db.read() as session:
        return list(session.scalars(select(Email).where(Email.kind == kind).order_by(Email.id)))


def _reset(rt, case_id: int, mandataire) -> None:
    """The invitation answered, the account active, then « Mot de passe perdu ? »."""
    me = Actor.mandataire(mandataire)
    with rt.engine.transaction() as tx:
        tx.fire(case_id, "set_password", actor=me)
        tx.fire(case_id, "first_login", actor=me)
        tx.fire(case_id, "request_reset", actor=me)
    settle(rt)


def test_the_stored_email_holds_a_placeholder_and_the_sent_one_a_working_link(
    runtime, app, ad, smtp_server, staff
):
    case_id, _, person = start_invitation(runtime.engine, ad)
    settle(runtime)
    (stored,) = _emails(runtime, "invitation")
    for body in (stored.text_body, stored.html_body):
        assert not SIGNED.search(body), body
        assert PLACEHOLDER.search(body), body
    (sent,) = smtp_server.to(person.email)
    link = invitation_link(sent)
    assert SIGNED.search(link) and "[lien:" not in sent.as_string()
    # The link that arrived opens the password page (nothing about it was stored).
    page = app.test_client().get(urlsplit(link).path)
    assert page.status_code == 200 and 'name="password"' in text(page)

    _reset(runtime, case_id, person)
    (reset,) = _emails(runtime, "password_reset")
    assert not SIGNED.search(reset.text_body + reset.html_body)
    assert PLACEHOLDER.search(reset.text_body).group(1) == "reset"
    arrived = [m for m in smtp_server.to(person.email) if "nouveau mot de passe" in m["Subject"]]
    assert SIGNED.search(text_body(arrived[0]))


def test_staff_read_the_links_masked_outside_the_sandbox(runtime, app, ad, smtp_server, staff):
    case_id, _, person = start_invitation(runtime.engine, ad)
    settle(runtime)
    _reset(runtime, case_id, person)
    client = app.test_client()
    log_in_staff(client, staff.id)
    for kind in ("invitation", "password_reset"):
        (email,) = _emails(runtime, kind)
        page = text(client.get(f"/admin/emails/{email.id}"))
        assert MASKED in page and not SIGNED.search(page) and "[lien:" not in page
        assert "Les liens personnels (invitation, mot de passe) sont masqués" in page
        assert "en clair" not in page
    for message in smtp_server.to(person.email):  # what the mandataire received
        token = SIGNED.search(text_body(message))
        assert token is not None
        assert token.group(0) not in text(client.get("/admin/emails/"))


@pytest.fixture
def sandbox_app(settings, clock) -> Iterator[Flask]:
    """The embedded default: no mail server, the back-office is the mailbox."""
    rt = build_runtime(settings.with_overrides(smtp_url=None), clock=clock)
    rt.start_worker(threads=1)
    flask_app = create_app(runtime=rt)
    flask_app.config["TESTING"] = True
    yield flask_app
    rt.stop()


def test_in_the_sandbox_staff_see_the_invitation_link_and_never_a_reset_link(
    sandbox_app, ad, staff
):
    rt = sandbox_app.extensions["coopflow"]
    case_id, _, person = start_invitation(rt.engine, ad)
    settle(rt)
    client = sandbox_app.test_client()
    log_in_staff(client, staff.id)
    (invitation,) = _emails(rt, "invitation")
    page = text(client.get(f"/admin/emails/{invitation.id}"))
    assert "Bac à sable" in page and "en clair" in page
    shown = SIGNED.search(page)
    assert shown is not None
    # The link shown is the working one: it opens the password page.
    opened = sandbox_app.test_client().get(shown.group(0))
    assert opened.status_code == 200 and 'name="password"' in text(opened)

    _reset(rt, case_id, person)
    (reset,) = _emails(rt, "password_reset")
    page = text(client.get(f"/admin/emails/{reset.id}"))
    assert MASKED in page and not SIGNED.search(page)
