"""A second click does nothing twice: « Confirmer l'import » and « Confirmer » of a bulk
job posted twice (one after the other, and at the same moment) do the work once and
answer with the first submission's result."""

from __future__ import annotations

import re
import threading
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.admin.conftest import csrf_token, log_in, text
from tests.admin.test_import import _upload
from workflows.models import BulkJob, Case, Coop, FormSubmission

FIRST_REPORT = "2 coopératives créées, 0 mise à jour, 0 inchangée, 1 ligne en erreur"


def _confirm_form(page: str) -> dict[str, str]:
    """The fields of « Confirmer l'import » as the browser posts them."""
    form = re.search(
        r'<form method="post" action="/admin/importer/confirmer">(.*?)</form>', page, re.S
    )
    assert form, "no « Confirmer l'import »"
    fields = dict(re.findall(r'name="([\w-]+)" type="hidden" value="([^"]*)"', form[1]))
    fields.update(re.findall(r'type="hidden" name="([\w-]+)" value="([^"]*)"', form[1]))
    assert {"csrf_token", "payload", "submission"} <= fields.keys(), fields.keys()
    return fields


def _counts(rt: Any) -> tuple[int, int]:
    with rt.db.read() as session:
        coops = session.scalar(select(func.count()).select_from(Coop))
        invitations = session.scalar(
            select(func.count()).select_from(Case).where(Case.process == "invitation")
        )
    return coops, invitations


def test_confirm_import_twice_imports_once_and_shows_the_first_report(client, rt, ad, staff06):
    log_in(client, staff06)
    form = _confirm_form(text(_upload(client, ad.id)))

    first = client.post("/admin/importer/confirmer", data=form)
    assert first.status_code == 200
    assert FIRST_REPORT in text(first)
    assert _counts(rt) == (2, 2)

    second = client.post("/admin/importer/confirmer", data=form)
    assert second.status_code == 303
    report_url = second.headers["Location"]
    assert report_url == f"/admin/importer/rapport/{form['submission']}"
    shown = text(client.get(report_url))
    assert FIRST_REPORT in shown and "2 invitations envoyées" in shown
    assert "Ligne 3 : L'email du mandataire" in shown
    assert "0 coopérative créée" not in shown and "inchangées" not in shown
    assert _counts(rt) == (2, 2)  # nothing imported twice, no second invitation


def test_a_new_preview_of_the_same_file_imports_again(client, rt, ad, staff06):
    """Once per rendering, not once per file: a new preview is a new import (its coops
    already there, « inchangée »)."""
    log_in(client, staff06)
    client.post("/admin/importer/confirmer", data=_confirm_form(text(_upload(client, ad.id))))
    again = client.post(
        "/admin/importer/confirmer", data=_confirm_form(text(_upload(client, ad.id)))
    )
    assert again.status_code == 200
    assert "0 coopérative créée, 0 mise à jour, 2 inchangées" in text(again)


def test_the_report_is_its_authors_only(app, client, rt, ad, staff06):
    from tests import factories

    log_in(client, staff06)
    form = _confirm_form(text(_upload(client, ad.id)))
    client.post("/admin/importer/confirmer", data=form)
    colleague = factories.StaffFactory(ad=ad, full_name="Paul Collègue", email="paul@occe.coop")
    other = app.test_client()
    log_in(other, colleague)
    assert other.get(f"/admin/importer/rapport/{form['submission']}").status_code == 404
    # Replaying a colleague's form neither imports nor shows the report.
    replay = other.post("/admin/importer/confirmer", data={**form, "csrf_token": _token(other)})
    assert replay.status_code == 403
    assert other.get("/admin/importer/rapport/pas-un-jeton").status_code == 404
    assert _counts(rt) == (2, 2)


def _token(client: FlaskClient) -> str:
    return csrf_token(text(client.get("/admin/importer/")))


def test_a_refused_confirmation_leaves_the_form_usable(client, rt, ad, staff06):
    """A submission that did nothing (here a payload altered by the client) records
    nothing: the same form still imports once it is sent intact."""
    log_in(client, staff06)
    form = _confirm_form(text(_upload(client, ad.id)))
    altered = client.post(
        "/admin/importer/confirmer", data={**form, "payload": "x" + form["payload"]}
    )
    assert altered.status_code == 400
    with rt.db.read() as session:
        assert session.scalar(select(func.count()).select_from(FormSubmission)) == 0
    done = client.post("/admin/importer/confirmer", data=form)
    assert done.status_code == 200 and FIRST_REPORT in text(done)


def test_two_confirmations_at_the_same_moment_import_once(app, rt, ad, staff06):
    """A double click sends the second request before the first has answered: the
    database orders them (SQLite's write lock, PostgreSQL's primary key)."""
    clients = [app.test_client() for _ in range(2)]
    for c in clients:
        log_in(c, staff06)
    form = _confirm_form(text(_upload(clients[0], ad.id)))
    with clients[0].session_transaction() as kept:
        cookie = dict(kept)
    with clients[1].session_transaction() as session:
        session.update(cookie)  # the same browser: the same session and CSRF token
    answers: list[Any] = [None, None]
    start = threading.Barrier(2)

    def post(i: int) -> None:
        start.wait()
        answers[i] = clients[i].post("/admin/importer/confirmer", data=form, follow_redirects=True)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [a.status_code for a in answers] == [200, 200]
    assert all(FIRST_REPORT in text(a) for a in answers), [text(a)[:2000] for a in answers]
    assert _counts(rt) == (2, 2)


# --- « Actions groupées » -------------------------------------------------------------


def test_confirm_a_bulk_job_twice_confirms_once(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    token = csrf_token(text(client.get("/admin/actions-groupees/")))
    created = client.post(
        "/admin/actions-groupees/creer",
        data={
            "csrf_token": token,
            "portee": "selection",
            "case_id": str(case.id),
            "action": "fire:resend",
            "comment": "Relance de rentrée",
            "retour": "/admin/dossiers/",
        },
    )
    job_url = created.headers["Location"].split("?")[0]
    page = text(client.get(job_url))
    form = re.search(r'action="[^"]*/confirmer"[^>]*>(.*?)</form>', page, re.S)
    assert form
    fields = dict(re.findall(r'name="([\w-]+)" value="([^"]*)"', form[1]))
    assert "submission" in fields

    first = client.post(f"{job_url}/confirmer", data=fields)
    second = client.post(f"{job_url}/confirmer", data=fields)
    assert (first.status_code, second.status_code) == (303, 303)
    assert second.headers["Location"] == first.headers["Location"] == job_url
    shown = text(client.get(job_url))
    assert "déjà" not in shown.lower(), shown  # no « déjà confirmée » for a second click
    with rt.db.read() as session:
        assert session.scalars(select(BulkJob.status)).one() != "draft"
