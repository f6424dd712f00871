"""The team side of a case page: assign, comment, tasks and the inbox."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests import factories
from tests.admin.conftest import csrf_token, log_in, text
from workflows.engine.engine import Actor
from workflows.engine.scheduling import tick
from workflows.models import Case, CaseEvent, Task, TaskStatus


def _case(rt, case_id: int) -> Case:
    with rt.db.read() as session:
        return session.get(Case, case_id)


def _events(rt, case_id: int) -> list[CaseEvent]:
    with rt.db.read() as session:
        return list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        )


def _selected(html: str) -> str:
    """The option the assignment select shows."""
    select = re.search(r'<select[^>]*name="assign-assignee".*?</select>', html, re.S)
    assert select, "no assignment select"
    chosen = re.findall(r"<option selected[^>]*>([^<]*)</option>", select.group(0))
    assert len(chosen) == 1, select.group(0)
    return chosen[0]


def _assign(
    client,
    html: str,
    case_id: int,
    version: int,
    assignee: str,
    *,
    bouton: str | None = None,
    comment: str | None = None,
    follow: bool = False,
):
    """The case page's assignment form as a browser posts it (``bouton``: the button
    pressed, « choix » for « Assigner », « moi » for « M'assigner »)."""
    data = {
        "assign-csrf_token": csrf_token(html),
        "assign-version": version,
        "assign-assignee": assignee,
    }
    if bouton is not None:
        data["assign-bouton"] = bouton
    if comment is not None:
        data["assign-comment"] = comment
    return client.post(f"/admin/dossiers/{case_id}/assigner", data=data, follow_redirects=follow)


def _choose(client, rt, html: str, case_id: int, assignee: str, comment: str | None = None):
    """« Assigner » pressed on ``html`` with ``assignee`` chosen in the select, the form
    carrying the case's version as it is now."""
    version = _case(rt, case_id).version
    return _assign(client, html, case_id, version, assignee, bouton="choix", comment=comment)


def test_assign_to_myself_then_to_a_colleague(client, rt, ad, staff06, make_case):
    colleague = factories.StaffFactory(ad=ad, full_name="Marc Collègue")
    case = make_case("expired")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    assert "Marc Collègue" in html  # offered in the select
    assert _selected(html) == "personne"
    # « M'assigner » as a browser sends it: the select's value (« personne ») and the
    # button's, under another name.
    done = _assign(client, html, case.id, case.version, "personne", bouton="moi", follow=True)
    assert "Dossier assigné à Claire Agent." in text(done)
    assert _selected(text(done)) == "Claire Agent"  # the select shows who has it now
    assert "M'assigner" not in text(done)
    assert _case(rt, case.id).assignee_id == staff06.id
    mine = text(client.get("/admin/?assigne=moi"))
    assert f'data-case-id="{case.id}"' in mine

    html = text(client.get(f"/admin/dossiers/{case.id}"))
    _choose(client, rt, html, case.id, str(colleague.id), "Marc connaît l'école.")
    assert _case(rt, case.id).assignee_id == colleague.id
    last = _events(rt, case.id)[-1]
    assert (
        last.kind == "assign" and last.comment == "Assigné à Marc Collègue. Marc connaît l'école."
    )


def test_assigner_with_the_select_untouched_never_unassigns(client, rt, ad, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    _assign(client, html, case.id, case.version, "personne", bouton="moi")
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    # « Assigner » with a comment and the select as the page shows it: refused under the
    # select, the comment kept, the case still Claire's.
    refused = _choose(client, rt, html, case.id, str(staff06.id), "Je m'en occupe cette semaine.")
    assert refused.status_code == 422
    page = text(refused)
    assert "Le dossier est déjà assigné à Claire Agent." in page
    assert "Je m'en occupe cette semaine." in page and _selected(page) == "Claire Agent"
    assert _case(rt, case.id).assignee_id == staff06.id
    # « personne », chosen, unassigns; a value that is no choice is refused in French.
    _choose(client, rt, html, case.id, "personne")
    assert _case(rt, case.id).assignee_id is None
    assert _events(rt, case.id)[-1].comment == "Assigné à personne."
    odd = _choose(client, rt, html, case.id, "quelqu'un")
    assert odd.status_code == 422
    assert "Choisissez un membre de l'équipe dans la liste." in text(odd)


def test_a_former_assignee_still_shows_as_the_assignee(client, rt, ad, staff06, make_case):
    gone = factories.StaffFactory(ad=ad, full_name="Paul Parti")
    case = make_case("expired")
    with rt.db.write() as session:
        session.get(Case, case.id).assignee_id = gone.id
    with rt.db.write() as session:
        session.get(type(gone), gone.id).is_active = False
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    assert _selected(html) == "Paul Parti (ne peut plus le traiter)"


def test_assigning_to_staff_of_another_ad_is_refused(client, rt, ad50, staff06, make_case):
    other = factories.StaffFactory(ad=ad50, full_name="Agent Manche")
    case = make_case("expired")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    assert "Agent Manche" not in html
    refused = _assign(client, html, case.id, case.version, str(other.id))
    assert refused.status_code == 422
    assert "Ce membre de l'équipe ne peut pas traiter ce dossier." in text(refused)
    assert _case(rt, case.id).assignee_id is None


def test_a_comment_lands_in_the_history_and_an_empty_one_is_refused(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    empty = client.post(
        f"/admin/dossiers/{case.id}/commenter",
        data={"comment-csrf_token": csrf_token(html), "comment-text": "  "},
    )
    assert empty.status_code == 422 and "Le commentaire est vide." in text(empty)
    count = len(_events(rt, case.id))
    client.post(
        f"/admin/dossiers/{case.id}/commenter",
        data={
            "comment-csrf_token": csrf_token(html),
            "comment-text": "<script>alert(1)</script> École fermée jusqu'au 3.",
        },
    )
    events = _events(rt, case.id)
    assert len(events) == count + 1 and events[-1].kind == "comment"
    page = client.get(f"/admin/dossiers/{case.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; École fermée" in page


def test_tasks_by_hand_inbox_take_overdue_and_done(client, rt, clock, ad, staff06, make_case):
    case = make_case("created")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    past = client.post(
        f"/admin/dossiers/{case.id}/taches",
        data={
            "task-csrf_token": csrf_token(html),
            "task-title": "Appeler",
            "task-due": "2026-09-01",
        },
    )
    assert past.status_code == 422 and "L'échéance doit être dans le futur." in text(past)
    bad = client.post(
        f"/admin/dossiers/{case.id}/taches",
        data={"task-csrf_token": csrf_token(html), "task-title": "Appeler", "task-due": "demain"},
    )
    assert bad.status_code == 422 and "Date invalide" in text(bad)
    client.post(
        f"/admin/dossiers/{case.id}/taches",
        data={
            "task-csrf_token": csrf_token(html),
            "task-title": "Appeler la directrice",
            "task-due": "2026-09-10",
        },
    )
    with rt.db.read() as session:
        [task] = session.scalars(select(Task).where(Task.case_id == case.id)).all()
    inbox = text(client.get("/admin/taches/"))
    assert "Appeler la directrice" in inbox and "10/09/2026" in inbox
    client.post(f"/admin/taches/{task.id}/prendre", data={"csrf_token": csrf_token(inbox)})
    assert "Appeler la directrice" in text(client.get("/admin/taches/?vue=moi"))

    # Past its due date, the scheduler makes the case stuck: it shows on the home page.
    clock.advance(timedelta(days=4))
    assert tick(rt.engine).tasks_overdue == 1
    home = text(client.get("/admin/"))
    assert f'data-case-id="{case.id}"' in home and "Tâche en retard" in home

    page = text(client.get(f"/admin/dossiers/{case.id}"))
    done = client.post(
        f"/admin/taches/{task.id}/terminer",
        data={"close-csrf_token": csrf_token(page), "close-comment": "Directrice jointe."},
        follow_redirects=True,
    )
    assert "Tâche marquée comme faite." in text(done)
    with rt.db.read() as session:
        assert session.get(Task, task.id).status == TaskStatus.DONE.value
    assert _case(rt, case.id).stuck_reason is None
    assert f'data-case-id="{case.id}"' not in text(client.get("/admin/"))


def test_readonly_and_other_ad_cannot_touch_tasks(app, client, rt, ad50, readonly06, make_case):
    theirs = make_case("created", of=ad50)
    with rt.engine.transaction() as tx:
        case = tx.lock(theirs.id)
        task = tx.open_task(
            case,
            kind="manual",
            title="Tâche AD50",
            due_at=tx.now + timedelta(days=3),
            created_by=Actor.system("test"),
        )
        tx.session.flush()
        task_id = task.id
    app.config["WTF_CSRF_ENABLED"] = False
    log_in(client, readonly06)
    assert "Tâche AD50" not in text(client.get("/admin/taches/"))
    assert client.post(f"/admin/taches/{task_id}/prendre").status_code == 403
    staff06 = factories.StaffFactory(ad=readonly06.ad, full_name="Claire")
    log_in(client, staff06)
    assert client.post(f"/admin/taches/{task_id}/prendre").status_code == 404
    assert (
        client.post(f"/admin/taches/{task_id}/terminer", data={"close-comment": "x"}).status_code
        == 404
    )


def test_the_diagram_highlights_the_current_state(client, staff06, make_case):
    case = make_case("bounced")
    log_in(client, staff06)
    html = client.get(f"/admin/dossiers/{case.id}").get_data(as_text=True)
    assert re.search(r"<svg[^>]*role=\"img\"", html)
    assert "Adresse refusée par le serveur de messagerie" in html
