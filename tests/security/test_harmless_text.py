"""HTML, SQL and template payloads typed into every free-text field are stored as typed
and shown as text.

Each payload goes through the form a user would use (the portal's coordonnées and
« Signaler un problème », the case page's comment, actions, assignment, tasks and email
fix, « Actions groupées », the CSV import's names and addresses); the row is read back
(verbatim: no SQL ran, nothing was stripped), then every page that shows it has the
escaped text and no page of the app has the raw markup (``<script>`` never reaches a
browser as a tag, ``{{ 7*7 }}`` is not evaluated); the emails composed from the names
escape them too; and every table is still there.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import inspect, select

from tests.security.bad_input import errors_shown
from tests.security.conftest import World, database_rows, token_of
from tests.web.conftest import log_in_mandataire, settle
from workflows.coop_csv import COLUMNS
from workflows.engine.engine import Actor
from workflows.models import (
    Base,
    BulkJob,
    Case,
    CaseEvent,
    Coop,
    Email,
    Mandataire,
    Task,
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'); DROP TABLE cases;--",
    "' OR '1'='1",
    "</textarea><svg onload=alert(2)>",
    "{{ 7*7 }} {% if 1 %}évalué{% endif %} ${7*7}",
    "Robert'); DELETE FROM coops WHERE ('1'='1",
]


def is_markup(text: str) -> bool:
    """Whether HTML would read ``text`` as markup (the template payload reads the same)."""
    return str(escape(text)) != text


MARKUP = [p for p in PAYLOADS if is_markup(p)]
SYSTEM = Actor.system("test")


def accepted(client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    """Post a form a user filled in well: it is taken (a redirect), whatever the text."""
    response = client.post(path, data=data)
    assert response.status_code in (302, 303), (path, errors_shown(response))
    return response


def html_of(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def assert_escaped_on(client: FlaskClient, paths: Iterable[str], payload: str) -> None:
    """Each page shows ``payload`` as text: its escaped form is there, never the raw one."""
    for path in paths:
        page = html_of(client, path)
        assert str(escape(payload)) in page, f"{payload!r} absent de {path}"
        assert not is_markup(payload) or payload not in page, f"{payload!r} tel quel dans {path}"


#: Every page without a parameter, for each person: none may hold a payload raw.
PAGES = {
    "staff": [
        "/admin/",
        "/admin/dossiers/",
        "/admin/taches/",
        "/admin/taches/?vue=libres",
        "/admin/cooperatives/",
        "/admin/emails/",
        "/admin/tableau-de-bord/",
        "/admin/actions-groupees/",
        "/admin/dossiers-export/",
    ],
    "mandataire": ["/mon-espace", "/mon-espace/verification", "/mon-espace/documents"],
}


def assert_nowhere_raw(clients: dict[str, FlaskClient], extra: dict[str, list[str]]) -> None:
    """No page (the lists, and the ones of the objects the payloads went into) has one of
    the payloads as raw markup."""
    for who, paths in PAGES.items():
        for path in [*paths, *extra.get(who, [])]:
            response = clients[who].get(path)
            if not response.content_type.startswith("text/html"):
                continue
            page = response.get_data(as_text=True)
            raw = [p for p in MARKUP if p in page]
            assert not raw, f"{path} montre tel quel : {raw}"


def assert_tables_intact(runtime: Any) -> None:
    with runtime.db.read() as session:
        tables = set(inspect(session.get_bind()).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    rows = database_rows(runtime)
    assert rows["cases"] and rows["coops"], "des lignes ont disparu"


def events(runtime: Any, case_id: int) -> list[CaseEvent]:
    with runtime.db.read() as session:
        return list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        )


def version(runtime: Any, case_id: int) -> int:
    with runtime.db.read() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return int(case.version)


# --- the portal, and the staff's answer -------------------------------------------------


def test_the_mandataires_texts_are_stored_as_typed_and_shown_as_text(
    app: Flask, runtime: Any, world: World, make_coop: Any
) -> None:
    """Coordonnées (street, city), « Signaler un problème » (its message becomes the
    task's note), and staff's « Problème corrigé » comment."""
    coop = make_coop("active")
    mandataire = app.test_client()
    log_in_mandataire(app, mandataire, coop.mandataire_id)
    staff = world.clients["staff"]
    token, staff_token = token_of(mandataire, "/mon-espace"), token_of(staff, "/admin/")
    space = coop.space_id
    assert space is not None
    for payload in PAYLOADS:
        accepted(
            mandataire,
            "/mon-espace/verification/coordonnees",
            {
                "csrf_token": token,
                "street": payload,
                "postal_code": "06000",
                "city": payload[:100],
                "phone": "",
            },
        )
        with runtime.db.read() as session:
            row = session.get(Coop, coop.coop_id)
            assert (row.street, row.city) == (payload, payload[:100])
        accepted(
            mandataire,
            "/mon-espace/verification/signaler",
            {"csrf_token": token, "version": version(runtime, space), "message": payload},
        )
        settle(runtime)
        with runtime.db.read() as session:
            task = session.scalars(
                select(Task).where(Task.case_id == space).order_by(Task.id.desc())
            ).first()
            assert task is not None and task.note == payload
        [*_, report] = [e for e in events(runtime, space) if e.trigger == "report_problem"]
        assert report.payload["message"] == payload
        assert_escaped_on(mandataire, ["/mon-espace/verification"], payload)
        assert_escaped_on(staff, [f"/admin/dossiers/{space}", "/admin/taches/"], payload)
        accepted(
            staff,
            f"/admin/dossiers/{space}/declencher/ask_again",
            {
                "ask_again-csrf_token": staff_token,
                "ask_again-version": version(runtime, space),
                "ask_again-comment": payload,
            },
        )
        settle(runtime)
        [*_, answer] = [e for e in events(runtime, space) if e.trigger == "ask_again"]
        assert answer.comment == payload
        assert_escaped_on(staff, [f"/admin/dossiers/{space}"], payload)
        assert_nowhere_raw(
            {"staff": staff, "mandataire": mandataire},
            {"staff": [f"/admin/dossiers/{space}", f"/admin/dossiers/{coop.invitation_id}"]},
        )
    assert_tables_intact(runtime)


# --- the case page --------------------------------------------------------------------


def test_the_case_pages_texts_are_stored_as_typed_and_shown_as_text(
    runtime: Any, world: World, make_coop: Any
) -> None:
    """Comment, assignment comment, task title, note and closing comment, and the
    comment of « Corriger l'email puis renvoyer »."""
    staff = world.clients["staff"]
    token = token_of(staff, "/admin/")
    case_id = world.values["case_id"]
    bounced = make_coop("invited")
    for n, payload in enumerate(PAYLOADS):
        page = f"/admin/dossiers/{case_id}"
        accepted(staff, f"{page}/commenter", {"comment-csrf_token": token, "comment-text": payload})
        assert events(runtime, case_id)[-1].comment == payload
        accepted(
            staff,
            f"{page}/assigner",
            {
                "assign-csrf_token": token,
                "assign-version": version(runtime, case_id),
                "assign-assignee": "moi" if n % 2 == 0 else "",
                "assign-comment": payload,
            },
        )
        assert events(runtime, case_id)[-1].comment.endswith(f". {payload}")
        accepted(
            staff,
            f"{page}/taches",
            {
                "task-csrf_token": token,
                "task-title": payload,
                "task-due": "2026-10-01",
                "task-note": payload,
            },
        )
        with runtime.db.read() as session:
            task = session.scalars(select(Task).order_by(Task.id.desc())).first()
            assert task is not None and (task.title, task.note) == (payload, payload)
            task_id = task.id
        assert_escaped_on(staff, [page, "/admin/taches/"], payload)
        accepted(
            staff,
            f"/admin/taches/{task_id}/terminer",
            {"close-csrf_token": token, "close-comment": payload},
        )
        assert events(runtime, case_id)[-1].comment == f"Tâche faite : {payload}. {payload}"
        assert_escaped_on(staff, [page], payload)

        with runtime.engine.transaction() as tx:  # refused by the mail server again
            tx.fire(
                bounced.invitation_id,
                "bounce",
                actor=SYSTEM,
                payload={"email": f"x{n}@ac-nice.fr", "error": "550 boîte inconnue"},
            )
        bounced_page = f"/admin/dossiers/{bounced.invitation_id}"
        accepted(
            staff,
            f"{bounced_page}/corriger-email",
            {
                "fix-csrf_token": token,
                "fix-version": version(runtime, bounced.invitation_id),
                "fix-email": f"corrige.{n}@ac-nice.fr",
                "fix-comment": payload,
            },
        )
        settle(runtime)
        fixed = [e for e in events(runtime, bounced.invitation_id) if e.trigger == "resend"]
        assert fixed[-1].comment.endswith(f"corrige.{n}@ac-nice.fr. {payload}")
        assert_escaped_on(staff, [bounced_page], payload)
        assert_nowhere_raw(world.clients, {"staff": [page, bounced_page]})
    assert_tables_intact(runtime)


# --- « Actions groupées » -----------------------------------------------------------------


def test_a_bulk_actions_comment_is_stored_as_typed_and_shown_as_text(
    runtime: Any, world: World
) -> None:
    staff = world.clients["staff"]
    token = token_of(staff, "/admin/")
    case_id = world.values["case_id"]
    for n, payload in enumerate(PAYLOADS):
        created = accepted(
            staff,
            "/admin/actions-groupees/creer",
            {
                "csrf_token": token,
                "action": "assign",
                "assignee": "moi" if n % 2 == 0 else "personne",
                "comment": payload,
                "portee": "selection",
                "case_id": str(case_id),
                "retour": "/admin/dossiers/",
            },
        )
        job_page = created.headers["Location"].split("?")[0]
        with runtime.db.read() as session:
            job = session.scalars(select(BulkJob).order_by(BulkJob.id.desc())).first()
            assert job is not None and job.comment == payload
        assert_escaped_on(staff, [job_page], payload)
        accepted(staff, f"{job_page}/confirmer", {"csrf_token": token})
        settle(runtime)
        assert events(runtime, case_id)[-1].comment.endswith(
            f"{payload} (action groupée n° {job.id})"
        )
        assert_escaped_on(staff, [f"/admin/dossiers/{case_id}"], payload)
        assert_nowhere_raw(world.clients, {"staff": [job_page, f"/admin/dossiers/{case_id}"]})
    assert_tables_intact(runtime)


# --- the CSV import -----------------------------------------------------------------------

HEADER = [column.header for column in COLUMNS]


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows([HEADER, *rows])
    return out.getvalue().encode()


def test_the_csv_imports_names_and_addresses_are_stored_as_typed_and_shown_as_text(
    app: Flask, runtime: Any, world: World, ad: Any
) -> None:
    """Names of the coop, school and mandataire, street and town: in the back-office, in
    the invitation emails and in the mandataire's portal; a refused value in the preview."""
    staff = world.clients["staff"]
    token = token_of(staff, "/admin/importer/")
    rows = [
        [
            f"9{n:04d}H",
            payload,
            payload,
            payload,
            "06000",
            payload[:100],
            f"ce.9{n:04d}h@ac-nice.fr",
            payload,
            payload,
            f"import.{n}@ac-nice.fr",
        ]
        for n, payload in enumerate(PAYLOADS)
    ]
    refused = [
        [
            payload,
            "Coop",
            "École",
            "",
            payload,
            "",
            "ce.x@ac-nice.fr",
            "A",
            "B",
            f"refus.{n}@ac-nice.fr",
        ]
        for n, payload in enumerate(PAYLOADS)
    ]
    preview = staff.post(
        "/admin/importer/",
        data={
            "csrf_token": token,
            "ad_id": str(ad.id),
            "invite": "y",
            "file": (io.BytesIO(_csv(rows + refused)), "coops.csv", "text/csv"),
        },
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200
    # Its non-breaking spaces (French typography) as spaces, for the messages compared.
    page = preview.get_data(as_text=True).replace("\u00a0", " ")
    for payload in PAYLOADS:  # « Code postal « … » invalide », its spaces taken out
        typed = payload.replace(" ", "")
        assert f"code postal « {escape(typed)} » invalide" in page
        assert not [raw for raw in (payload, typed) if is_markup(raw) and raw in page]
    payload_field = re.search(r'name="payload" type="hidden" value="([^"]+)"', page)
    assert payload_field
    done = staff.post(
        "/admin/importer/confirmer", data={"csrf_token": token, "payload": payload_field[1]}
    )
    assert done.status_code == 200 and not [p for p in MARKUP if p in done.get_data(as_text=True)]
    settle(runtime)

    mandataire = app.test_client()
    for n, payload in enumerate(PAYLOADS):
        with runtime.db.write() as session:
            coop = session.scalars(
                select(Coop).where(Coop.affiliation_number == f"9{n:04d}H")
            ).one()
            assert (coop.name, coop.school_name, coop.street, coop.city) == (
                payload,
                payload,
                payload,
                payload[:100],
            )
            person = session.scalars(select(Mandataire).where(Mandataire.coop_id == coop.id)).one()
            assert (person.first_name, person.last_name) == (payload, payload)
            emails = session.scalars(select(Email).where(Email.coop_id == coop.id)).all()
            assert emails, "no invitation"
            for email in emails:
                assert str(escape(payload)) in email.html_body
                assert not is_markup(payload) or payload not in email.html_body
            case_id = session.scalars(select(Case.id).where(Case.coop_id == coop.id)).one()
            email_id = emails[0].id
            person.password_hash = "argon2-hash-of-the-tests"  # a portal session, for the test
            mandataire_id, coop_id = person.id, coop.id
        assert_escaped_on(
            staff,
            [
                f"/admin/dossiers/{case_id}",
                f"/admin/emails/{email_id}",
                "/admin/cooperatives/",
                "/admin/dossiers/",
            ],
            payload,
        )
        log_in_mandataire(app, mandataire, mandataire_id)
        assert_escaped_on(mandataire, ["/mon-espace", "/mon-espace/verification"], payload)
        assert_nowhere_raw(
            {"staff": staff, "mandataire": mandataire},
            {
                "staff": [
                    f"/admin/dossiers/{case_id}",
                    f"/admin/emails/{email_id}",
                    f"/admin/cooperatives/?search={coop_id}",
                ]
            },
        )
    assert_tables_intact(runtime)
