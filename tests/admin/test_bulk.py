"""« Actions groupées » through the back-office: select, confirm, let the worker act,
read the report. Both backends, the real broker and worker threads."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from flask import render_template_string
from flask_login import login_user
from sqlalchemy import func, select

from tests import factories
from tests.admin.conftest import csrf_token, log_in
from web.auth import principal_for
from workers.runner import run_steps
from workflows.engine import bulk
from workflows.engine.engine import Actor
from workflows.models import BulkItem, BulkJob, Case, CaseEvent, Email, Step

EXPIRED_AD06 = {"bloques": "1", "motif": "invitation_expired", "ad": "AD06"}


@pytest.fixture
def worker(rt):
    """The worker threads, started once the test's cases are set up."""

    def start():
        rt.start_worker(threads=2)
        return rt

    return start


def _plain(response) -> str:
    """The page's text, its non-breaking spaces (French typography) as spaces."""
    return html.unescape(response.get_data(as_text=True)).replace("\u00a0", " ")


def _token(client) -> str:
    return csrf_token(_plain(client.get("/admin/actions-groupees/")))


def _create(client, **data):
    data.setdefault("csrf_token", _token(client))
    data.setdefault("retour", "/admin/dossiers/?bloques=1")
    return client.post("/admin/actions-groupees/creer", data=data)


def _job_id(response) -> int:
    assert response.status_code == 303, _plain(response)
    match = re.match(r".*/admin/actions-groupees/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def _ticked(client, cases, action: str, comment: str = "x", **data) -> int:
    """A draft job of the ``cases`` ticked in the list: its id."""
    ticked = [str(c.id) for c in cases]
    return _job_id(
        _create(client, portee="selection", case_id=ticked, action=action, comment=comment, **data)
    )


def _confirm(client, job_id: int):
    page = _plain(client.get(f"/admin/actions-groupees/{job_id}"))
    return client.post(
        f"/admin/actions-groupees/{job_id}/confirmer", data={"csrf_token": csrf_token(page)}
    )


def _case(rt, case_id) -> Case:
    with rt.db.read() as s:
        return s.get(Case, case_id)


def _resends(rt, case_id) -> list[CaseEvent]:
    with rt.db.read() as s:
        return list(
            s.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.trigger == "resend")
            )
        )


def _emails(rt, case_id) -> int:
    with rt.db.read() as s:
        return s.scalar(select(func.count()).select_from(Email).where(Email.case_id == case_id))


def _jobs(rt) -> int:
    with rt.db.read() as s:
        return s.scalar(select(func.count()).select_from(BulkJob)) + s.scalar(
            select(func.count()).select_from(BulkItem)
        )


def test_resend_every_expired_invitation_of_ad06(client, rt, national, make_case, ad50, worker):
    targets = [make_case("expired") for _ in range(3)]
    changed = make_case("expired")
    others = [make_case("bounced"), make_case("created"), make_case("expired", of=ad50)]
    log_in(client, national)

    created = _create(
        client,
        portee="filtre",
        action="fire:resend",
        comment="Relance de rentrée",
        **EXPIRED_AD06,
    )
    job_id = _job_id(created)
    draft = _plain(client.get(created.headers["Location"]))
    assert (
        "4 dossiers seront traités : Renvoyer l'invitation — dossiers bloqués, "
        "motif « Invitation expirée », AD06"
    ) in draft
    assert "Confirmer" in draft
    assert all(_case(rt, c.id).state == "expired" for c in [*targets, changed])  # not yet

    with rt.engine.transaction() as tx:  # someone deals with one case in the meantime
        tx.fire(changed.id, "cancel", actor=Actor("staff", 0, "Autre"), comment="doublon")
    worker()
    assert _confirm(client, job_id).status_code == 303
    rt.join()

    for case in targets:
        assert _case(rt, case.id).state == "invited"  # resent, and the email went out
        [event] = _resends(rt, case.id)
        assert event.actor == f"staff:{national.id} Nadia Nationale"
        assert event.comment == f"Relance de rentrée (action groupée n° {job_id})"
        assert _emails(rt, case.id) == 1  # set up without a worker: the first one never left
    assert _case(rt, changed.id).state == "cancelled" and _resends(rt, changed.id) == []
    untouched_ad50 = others[2]
    assert _case(rt, untouched_ad50.id).state == "expired"
    assert _resends(rt, untouched_ad50.id) == [] and _emails(rt, untouched_ad50.id) == 0
    assert [_case(rt, c.id).state for c in others[:2]] == ["bounced", "created"]

    report = _plain(client.get(f"/admin/actions-groupees/{job_id}"))
    assert "terminée" in report
    for case in targets:
        assert f'href="/admin/dossiers/{case.id}"' in report
        assert case.coop.name in report
    assert report.count("Renvoyer l'invitation : Lien expiré → Envoi de l'invitation en cours") == 3
    assert "le dossier a changé depuis la sélection (état actuel : Annulée)" in report
    skipped = _plain(client.get(f"/admin/actions-groupees/{job_id}?statut=skipped"))
    assert f'href="/admin/dossiers/{changed.id}"' in skipped
    assert f'href="/admin/dossiers/{targets[0].id}"' not in skipped

    progress = client.get(f"/admin/actions-groupees/{job_id}/progression").get_json()
    assert progress == {
        "status": "done",
        "label": "terminée",
        "total": 4,
        "done": 3,
        "skipped": 1,
        "processed": 4,
        "remaining": 0,
        "percent": 100,
        "finished": True,
    }
    recent = _plain(client.get("/admin/actions-groupees/"))
    assert f"n° {job_id}" in recent and "Renvoyer l'invitation" in recent


def test_only_the_ticked_cases_are_touched(client, rt, staff06, make_case, worker):
    first, second, left_alone = (make_case("expired") for _ in range(3))
    log_in(client, staff06)
    worker()
    created = _create(
        client,
        portee="selection",
        case_id=[str(first.id), str(second.id)],
        action="fire:resend",
        comment="Appel de l'école",
    )
    job_id = _job_id(created)
    assert "2 dossiers seront traités : Renvoyer l'invitation — 2 dossiers cochés" in _plain(
        client.get(created.headers["Location"])
    )
    _confirm(client, job_id)
    rt.join()
    assert [_case(rt, c.id).state for c in (first, second)] == ["invited", "invited"]
    assert _case(rt, left_alone.id).state == "expired" and _resends(rt, left_alone.id) == []


def test_the_progress_page_refreshes_itself_while_the_job_runs(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    job_id = _ticked(client, [case], "fire:cancel")
    draft = _plain(client.get(f"/admin/actions-groupees/{job_id}"))
    assert 'http-equiv="refresh"' not in draft  # a draft waits for its author
    _confirm(client, job_id)
    page = _plain(client.get(f"/admin/actions-groupees/{job_id}"))
    assert '<progress class="w-100 mb-2" max="1" value="0">0 %</progress>' in page
    assert "en cours" in page and "Rafraîchir" not in page
    # No worker yet: the page reloads itself (a meta tag, no script: the CSP).
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "Cette page se met à jour toute seule toutes les 2 secondes." in page
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts and all("src=" in tag for tag in scripts)  # no inline script (CSP)
    assert client.get(f"/admin/actions-groupees/{job_id}/progression").get_json()["percent"] == 0
    assert _case(rt, case.id).state == "expired"

    bulk.process(rt.engine, job_id)  # a worker gets to it
    done = _plain(client.get(f"/admin/actions-groupees/{job_id}"))
    assert "terminée" in done and _case(rt, case.id).state == "cancelled"
    # The cancellation queued a step (the end of the mandataire's access): the page
    # follows it, less often, until it has run.
    assert '<meta http-equiv="refresh" content="10">' in done
    with rt.db.read() as session:
        pending = session.scalars(
            select(Step.id).where(Step.case_id == case.id, Step.status == "pending")
        ).all()
    assert pending
    run_steps(rt, list(pending))
    settled = _plain(client.get(f"/admin/actions-groupees/{job_id}"))
    assert "terminée" in settled and 'http-equiv="refresh"' not in settled


def _cells(html: str, case_id: int) -> list[str]:
    """The report's line of a case, as its cells' text."""
    row = re.search(
        rf'<tr class="bulk-item[^"]*"[^>]*>\s*<td><a href="/admin/dossiers/{case_id}">.*?</tr>',
        html,
        re.S,
    )
    assert row, case_id
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells]


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:]), delimiter=";"))


def test_after_a_bulk_resend_the_report_says_which_cases_are_stuck_again(
    client, rt, staff06, make_case, worker
):
    good = [make_case("expired") for _ in range(2)]
    refused = make_case("expired", email="inconnu.ecole@ac-nice.fr")  # the sandbox refuses it
    log_in(client, staff06)
    worker()
    job_id = _ticked(client, [*good, refused], "fire:resend", "Relance de rentrée")
    _confirm(client, job_id)
    rt.join()
    assert [_case(rt, c.id).state for c in good] == ["invited", "invited"]
    assert _case(rt, refused.id).state == "bounced"

    page = _plain(client.get(f"/admin/actions-groupees/{job_id}"))
    assert "terminée" in page and 'http-equiv="refresh"' not in page
    assert "faits : 3 · ignorés : 0 · encore bloqués : 1 ·" in " ".join(page.split())
    for case in good:
        cells = _cells(page, case.id)
        assert cells[3:5] == [
            "fait",
            "Renvoyer l'invitation : Lien expiré → Envoi de l'invitation en cours",
        ]
        assert cells[6] == (
            "Non bloqué : état actuel : « Invitation envoyée, en attente du mot de passe »"
        )
    cells = _cells(page, refused.id)
    # « Fait », and yet stuck again: the report says so, and why.
    assert cells[3] == "fait"
    assert cells[6].startswith("Bloqué à nouveau : depuis le ")
    assert (
        "Le serveur de messagerie a refusé l'adresse inconnu.ecole@ac-nice.fr : 550 5.1.1"
        in cells[6]
    )

    # Only the cases still stuck.
    stuck = _plain(client.get(f"/admin/actions-groupees/{job_id}?statut=bloques"))
    assert f'href="/admin/dossiers/{refused.id}"' in stuck
    assert all(f'href="/admin/dossiers/{c.id}"' not in stuck for c in good)
    assert "Encore bloqués (1)" in stuck

    # The report as a file, whole or filtered the same way.
    rows = _csv(client.get(f"/admin/actions-groupees/{job_id}/rapport.csv"))
    assert [int(r["Dossier"]) for r in rows] == [c.id for c in [*good, refused]]
    assert list(rows[0]) == [
        "Dossier",
        "Coopérative",
        "N° d'affiliation",
        "Processus",
        "État actuel",
        "Résultat",
        "Détail",
        "Traité le",
        "Depuis l'action",
        "Précisions",
        "Encore bloqué",
    ]
    assert [r["Encore bloqué"] for r in rows] == ["non", "non", "oui"]
    assert rows[2]["Depuis l'action"] == "bloqué à nouveau" and rows[2]["État actuel"] == (
        "Adresse refusée par le serveur de messagerie"
    )
    assert "inconnu.ecole@ac-nice.fr" in rows[2]["Précisions"]
    only = _csv(client.get(f"/admin/actions-groupees/{job_id}/rapport.csv?statut=bloques"))
    assert [int(r["Dossier"]) for r in only] == [refused.id]
    xlsx = client.get(f"/admin/actions-groupees/{job_id}/rapport.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_the_report_and_its_export_are_their_authors_only(client, rt, ad, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    job_id = _ticked(client, [case], "fire:cancel")
    other = factories.StaffFactory(ad=ad, full_name="Marc Collègue")
    log_in(client, other)
    assert client.get(f"/admin/actions-groupees/{job_id}/rapport.csv").status_code == 404


def test_a_case_outside_the_scope_refuses_everything(client, rt, staff06, make_case, ad50):
    mine, theirs = make_case("expired"), make_case("expired", of=ad50)
    log_in(client, staff06)
    refused = _create(
        client,
        portee="selection",
        case_id=[str(mine.id), str(theirs.id)],
        action="fire:resend",
        comment="Relance",
    )
    assert refused.status_code == 422
    page = _plain(refused)
    assert f"Dossiers introuvables ou hors de votre périmètre : n° {theirs.id}." in page
    assert "Rien n'a été fait" in page and 'href="/admin/dossiers/?bloques=1"' in page
    assert _jobs(rt) == 0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {"portee": "filtre", "action": "fire:resend", "comment": "  ", **EXPIRED_AD06},
            "Indiquez un commentaire : il est enregistré dans l'historique",
        ),
        ({"portee": "filtre", "comment": "Relance", **EXPIRED_AD06}, "Choisissez une action."),
        ({"portee": "selection", "action": "fire:resend", "comment": "x"}, "Aucun dossier coché"),
        (
            {"portee": "filtre", "action": "fire:resend", "comment": "x", "ad": "AD99"},
            "Aucun dossier ne correspond à ce filtre.",
        ),
        ({"action": "fire:resend", "comment": "x"}, "Appliquer aux dossiers cochés"),
        (
            {"portee": "filtre", "action": "fire:first_login", "comment": "x"},
            "Action inconnue : « first_login »",
        ),
        (
            {"portee": "filtre", "action": "assign", "assignee": "", "comment": "x"},
            "Choisissez à qui assigner les dossiers.",
        ),
    ],
)
def test_a_bad_request_says_why_in_french_and_writes_nothing(
    client, rt, staff06, make_case, data, error
):
    case = make_case("expired")
    log_in(client, staff06)
    refused = _create(client, **data)
    assert refused.status_code == 422
    assert error in _plain(refused)
    assert _jobs(rt) == 0 and _case(rt, case.id).state == "expired"


def test_read_only_staff_get_403_on_every_post(client, rt, staff06, readonly06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    job_id = _ticked(client, [case], "fire:resend")
    log_in(client, readonly06)
    token = _token(client)
    posts = {
        "/admin/actions-groupees/creer": {
            "portee": "selection",
            "case_id": str(case.id),
            "action": "fire:resend",
            "comment": "x",
        },
        f"/admin/actions-groupees/{job_id}/confirmer": {},
        f"/admin/actions-groupees/{job_id}/abandonner": {},
    }
    for url, data in posts.items():
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    with rt.db.read() as s:
        assert s.get(BulkJob, job_id).status == "draft"
    assert _case(rt, case.id).state == "expired"


def test_a_job_is_its_authors_only(client, rt, staff06, make_case, ad):
    from tests import factories

    colleague = factories.StaffFactory(ad=ad, full_name="Marc Collègue")
    case = make_case("expired")
    log_in(client, staff06)
    job_id = _ticked(client, [case], "fire:resend")
    log_in(client, colleague)
    assert client.get(f"/admin/actions-groupees/{job_id}").status_code == 404
    assert client.get(f"/admin/actions-groupees/{job_id}/progression").status_code == 404
    token = _token(client)
    confirm = client.post(f"/admin/actions-groupees/{job_id}/confirmer", data={"csrf_token": token})
    assert confirm.status_code == 404
    with rt.db.read() as s:
        assert s.get(BulkJob, job_id).status == "draft"


def test_abandon_a_draft(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    created = _create(
        client,
        portee="selection",
        case_id=str(case.id),
        action="fire:resend",
        comment="x",
        retour="/admin/dossiers/?motif=invitation_expired",
    )
    page = _plain(client.get(created.headers["Location"]))
    done = client.post(
        f"/admin/actions-groupees/{_job_id(created)}/abandonner",
        data={
            "csrf_token": csrf_token(page),
            "retour": "/admin/dossiers/?motif=invitation_expired",
        },
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/admin/dossiers/?motif=invitation_expired"
    assert _jobs(rt) == 0 and _case(rt, case.id).state == "expired"


def test_assign_the_ticked_cases_to_myself(client, rt, staff06, make_case, worker):
    cases = [make_case("expired") for _ in range(2)]
    log_in(client, staff06)
    worker()
    job_id = _ticked(client, cases, "assign", "Je m'en occupe", assignee="moi")
    assert "Assigner à Claire Agent" in _plain(client.get(f"/admin/actions-groupees/{job_id}"))
    _confirm(client, job_id)
    rt.join()
    assert [_case(rt, c.id).assignee_id for c in cases] == [staff06.id, staff06.id]


def test_the_lists_form(app, staff06, readonly06):
    from admin.queries import CaseFilters

    template = (
        "{% import 'coopflow_admin/_bulk.html' as bulk %}{{ bulk.bulk_form(filters, definitions) }}"
    )
    definitions = app.extensions["coopflow"].engine.definitions
    filters = CaseFilters(bloques=True, motif="invitation_expired", ad="AD06")
    with app.test_request_context("/admin/dossiers/?bloques=1&motif=invitation_expired&ad=AD06"):
        login_user(principal_for(staff06))
        html = render_template_string(template, filters=filters, definitions=definitions)
    assert 'action="/admin/actions-groupees/creer" id="bulk-form"' in html
    assert 'name="csrf_token"' in html
    assert '<option value="fire:resend">Renvoyer l&#39;invitation</option>' in html
    assert '<option value="fire:cancel">Annuler</option>' in html
    assert '<option value="retry_step">' in html and '<option value="assign">' in html
    assert '<option value="moi">moi</option>' in html
    for name, value in filters.to_args().items():
        assert f'<input type="hidden" name="{name}" value="{value}">' in html
    assert 'name="portee" value="selection"' in html and "Appliquer aux dossiers cochés" in html
    assert 'name="portee" value="filtre"' in html and "Appliquer à tout le filtre" in html
    assert 'name="comment"' in html
    with app.test_request_context("/admin/dossiers/"):
        login_user(principal_for(readonly06))
        assert (
            render_template_string(template, filters=filters, definitions=definitions).strip() == ""
        )


def test_the_case_list_carries_the_form(client, staff06, readonly06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    html = _plain(client.get("/admin/dossiers/?bloques=1&motif=invitation_expired"))
    assert 'action="/admin/actions-groupees/creer" id="bulk-form"' in html
    assert f'name="case_id" value="{case.id}" form="bulk-form"' in html
    assert '<input type="hidden" name="motif" value="invitation_expired">' in html
    log_in(client, readonly06)
    assert 'id="bulk-form"' not in _plain(client.get("/admin/dossiers/?bloques=1"))
