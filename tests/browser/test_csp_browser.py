"""The back-office's pages, in a real browser, under their Content Security Policy:
they work, and the browser reports no violation (no inline script without the nonce,
nothing loaded from elsewhere). The portal's pages too (they run no script at all)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import factories
from tests.web.conftest import make_coop, settle
from workflows.engine import bulk
from workflows.models import Document, Email, Mandataire
from workflows.password_hashing import hash_password

__all__ = ["make_coop"]  # the fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

#: How Chromium words a violation in the console (``Refused to execute inline script
#: because it violates the following Content Security Policy directive: ...``).
VIOLATION = "Content Security Policy"


def _violations(page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{page.url}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"{page.url}: pageerror: {error}"))
    return messages


def test_back_office_pages_run_under_their_csp(runtime, live_server, page, ad, make_coop):
    agent = factories.StaffFactory(ad=ad, full_name="Claire Agent", email="claire@occe.coop")
    coop = make_coop("active")
    with runtime.engine.transaction() as tx:
        email = Email(
            idempotency_key="csp-email",
            kind="invitation",
            case_id=coop.invitation_id,
            coop_id=coop.coop_id,
            to_address=coop.email,
            subject="Invitation",
            text_body="texte",
            html_body='<p style="color: #c00"><b>Bienvenue</b></p>',
            message_id="<csp@coopflow>",
            status="stored",
        )
        tx.session.add(email)
        job = bulk.create(
            tx,
            staff_id=agent.id,
            action="assign",
            params={"assignee_id": None},
            case_ids=[coop.invitation_id],
            comment="Répartition",
            description="test",
        )
        tx.session.flush()
        email_id, job_id = email.id, job.id
    messages = _violations(page)

    page.goto(f"{live_server}/admin/")
    page.get_by_label("Adresse email").fill(agent.email)
    page.get_by_label("Mot de passe").fill(factories.STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    assert page.get_by_role("heading", name="Cas bloqués").is_visible()

    visits = {
        "/admin/dossiers/": "Dossiers",
        f"/admin/dossiers/{coop.invitation_id}": coop.name,
        "/admin/tableau-de-bord/": "Tableau de bord",
        "/admin/taches/": "Tâches",
        "/admin/cooperatives/": coop.name,
        "/admin/emails/": "Invitation",
        f"/admin/emails/{email_id}": "Invitation",
        "/admin/importer/": "Importer",
        "/admin/actions-groupees/": "Actions",
        f"/admin/actions-groupees/{job_id}": "Répartition",
    }
    for path, expected in visits.items():
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("load")
        assert expected in page.inner_text("body"), path

    # Flask-Admin's own scripts work: the list's filter menu (jQuery, Bootstrap and its
    # filters script) opens and adds a filter row, and its "javascript:void(0)" links,
    # blocked by the CSP, are not followed (links.js): no violation, same address.
    page.goto(f"{live_server}/admin/emails/")
    assert page.evaluate("typeof window.jQuery") == "function"
    page.get_by_role("link", name="Ajouter un filtre").click()
    page.locator("a.filter", has_text="Statut").click()
    assert page.locator(".filters select.filter-op").count() == 1
    assert page.url == f"{live_server}/admin/emails/"

    # The bulk job's page, confirmed: its progress script (a file) polls to the end.
    page.goto(f"{live_server}/admin/actions-groupees/{job_id}")
    page.get_by_role("button", name="Confirmer").click()
    # A locator, not ``wait_for_function``: the page's CSP forbids the latter's eval.
    page.get_by_text("terminée").first.wait_for(timeout=30_000)
    settle(runtime)
    assert [m for m in messages if VIOLATION in m or "pageerror" in m] == []


def test_portal_pages_run_under_their_csp(runtime, app, live_server, page, make_coop):
    coop = make_coop("confirmed")
    with runtime.db.write() as session:
        session.get(Mandataire, coop.mandataire_id).password_hash = hash_password(
            "Un*mot-de-passe-2026"
        )
        document_id = session.scalars(
            select(Document.id).where(Document.coop_id == coop.coop_id)
        ).first()
    messages = _violations(page)
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse email").fill(coop.email)
    page.get_by_label("Votre mot de passe").fill("Un*mot-de-passe-2026")
    page.get_by_role("button", name="Connexion").click()
    page.wait_for_url("**/mon-espace")
    for path in ("/mon-espace", "/mon-espace/verification", "/mon-espace/documents"):
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 200, path
    assert document_id is not None
    assert [m for m in messages if VIOLATION in m or "pageerror" in m] == []
