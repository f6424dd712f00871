"""The « Dossiers » list and the case page's actions, through the real engine."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.admin.conftest import csrf_token, log_in, text
from tests.helpers import manual_task
from workflows.engine.engine import Actor
from workflows.models import Case, CaseEvent, Mandataire, Step, StepStatus, Task


def _state(rt, case_id: int) -> str:
    with rt.db.read() as session:
        return session.get(Case, case_id).state


def _events(rt, case_id: int) -> list[CaseEvent]:
    with rt.db.read() as session:
        return list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        )


def _flash(html: str) -> list[str]:
    return [
        " ".join(m.split())
        for m in re.findall(
            r'<div class="alert alert-[a-z]+ alert-dismissable">.*?</button>(.*?)</div>', html, re.S
        )
    ]


def _ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-case-id="(\d+)"', html)]


def _recommended(html: str) -> str | None:
    """The id of the action form shown in the stuck banner, if any."""
    banner = re.search(r'id="recommandee".*?</form>', html, re.S)
    found = re.search(r'<form [^>]*id="([\w-]+)"', banner.group(0)) if banner else None
    return found.group(1) if found else None


def test_the_home_lists_stuck_cases_oldest_first(client, rt, clock, staff06, make_case):
    calm = make_case("created")
    first = make_case("expired")
    clock.advance(timedelta(hours=1))
    second = make_case("bounced")
    log_in(client, staff06)
    home = text(client.get("/admin/"))
    assert _ids(home) == [first.id, second.id]
    assert "Invitation expirée" in home and "Adresse email refusée" in home
    assert "Le mandataire n'a pas utilisé son lien d'invitation à temps." in home
    # Counts per reason, and the recommended action one click away.
    assert re.search(r"Invitation expirée\s*<span[^>]*>1</span>", home)
    assert f'href="/admin/dossiers/{first.id}#recommandee">Renvoyer l&#39;invitation' in (
        client.get("/admin/").get_data(as_text=True)
    )

    # « Dossiers »: every case, the newest first, with the same filters.
    everything = text(client.get("/admin/dossiers/"))
    assert _ids(everything) == [second.id, first.id, calm.id]
    assert _ids(text(client.get("/admin/dossiers/?bloques=1"))) == [first.id, second.id]
    assert _ids(text(client.get("/admin/?motif=invitation_bounced"))) == [second.id]
    assert _ids(text(client.get("/admin/dossiers/?etat=invitation.created"))) == [calm.id]
    assert _ids(text(client.get(f"/admin/?q={second.coop.affiliation_number}"))) == [second.id]


def test_search_finds_a_case_by_mandataire_name_or_email(client, rt, staff06, make_case):
    wanted = make_case("expired", email="helene.peraud@ac-nice.fr")
    make_case("expired")
    log_in(client, staff06)
    assert _ids(text(client.get("/admin/?q=PERAUD"))) == [wanted.id]
    assert _ids(text(client.get("/admin/?q=helene.peraud@"))) == [wanted.id]
    assert _ids(text(client.get("/admin/?q=%25"))) == []  # LIKE wildcards are plain text


def test_the_age_filter_and_deep_pages(client, rt, clock, staff06, make_case, monkeypatch):
    import admin.queries

    monkeypatch.setattr(admin.queries, "PAGE_SIZE", 2)
    old = [make_case("expired") for _ in range(3)]
    clock.advance(timedelta(days=5))
    recent = make_case("expired")
    log_in(client, staff06)
    assert _ids(text(client.get("/admin/?age=3"))) == [old[0].id, old[1].id]
    page1 = client.get("/admin/").get_data(as_text=True)
    assert _ids(page1) == [old[0].id, old[1].id]
    next_url = html.unescape(re.search(r'href="([^"]+)">Page suivante', page1).group(1))
    page2 = text(client.get(next_url))
    assert _ids(page2) == [old[2].id, recent.id]
    assert "Page suivante" not in page2 and "Première page" in page2


def test_resend_an_expired_invitation_from_the_case_page(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    assert "Le mandataire n'a pas utilisé son lien d'invitation à temps." in html
    assert _recommended(html) == "action-resend"

    done = client.post(
        f"/admin/dossiers/{case.id}/declencher/resend",
        data={
            "resend-csrf_token": csrf_token(html),
            "resend-version": case.version,
            "resend-comment": "Appel du mandataire : il n'a pas vu le courriel.",
        },
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert (
        "Action effectuée : le dossier est maintenant « Envoi de l'invitation en cours »."
        in _flash(text(done))
    )
    assert _state(rt, case.id) == "sending"
    last = _events(rt, case.id)[-1]
    assert last.actor == f"staff:{staff06.id} Claire Agent"
    assert last.trigger == "resend" and (last.from_state, last.to_state) == ("expired", "sending")
    assert last.comment == "Appel du mandataire : il n'a pas vu le courriel."
    timeline = text(client.get(f"/admin/dossiers/{case.id}"))
    assert "Claire Agent (équipe)" in timeline and "il n'a pas vu le courriel" in timeline


def test_a_stale_version_changes_nothing(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    before = len(_events(rt, case.id))
    done = client.post(
        f"/admin/dossiers/{case.id}/declencher/resend",
        data={
            "resend-csrf_token": csrf_token(html),
            "resend-version": case.version - 1,
            "resend-comment": "Relance",
        },
        follow_redirects=True,
    )
    assert (
        "Ce dossier vient d'être modifié par quelqu'un d'autre. Rechargez la page pour "
        "voir son état actuel." in _flash(text(done))
    )
    assert _state(rt, case.id) == "expired"
    assert len(_events(rt, case.id)) == before


def test_the_comment_is_required(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    refused = client.post(
        f"/admin/dossiers/{case.id}/declencher/resend",
        data={
            "resend-csrf_token": csrf_token(html),
            "resend-version": case.version,
            "resend-comment": "  ",
        },
    )
    assert refused.status_code == 422
    assert "Indiquez un commentaire" in text(refused)
    assert _state(rt, case.id) == "expired"


def test_a_trigger_staff_may_not_fire_is_refused_in_french(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    done = client.post(
        f"/admin/dossiers/{case.id}/declencher/set_password",
        data={
            "set_password-csrf_token": csrf_token(html),
            "set_password-version": case.version,
            "set_password-comment": "essai",
        },
        follow_redirects=True,
    )
    [message] = _flash(text(done))
    assert message.startswith("Action « Configurer le mot de passe » impossible")
    assert _state(rt, case.id) == "expired"


@pytest.mark.parametrize(
    ("new_email", "error"),
    [
        ("pas-une-adresse", "n'est pas valide"),
        ("eloise.martin@gmail.com", "domaine académique de l'AD (ac-nice.fr)"),
        ("deja.prise@ac-nice.fr", "déjà celle d'un autre mandataire"),
    ],
)
def test_fix_email_refuses_a_bad_address(client, rt, staff06, make_case, new_email, error):
    factories.MandataireFactory(email="deja.prise@ac-nice.fr")
    case = make_case("bounced")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    assert _recommended(html) == "action-fix"
    refused = client.post(
        f"/admin/dossiers/{case.id}/corriger-email",
        data={
            "fix-csrf_token": csrf_token(html),
            "fix-version": case.version,
            "fix-email": new_email,
            "fix-comment": "Appel de l'école.",
        },
    )
    assert refused.status_code == 422
    assert error in text(refused)
    assert _state(rt, case.id) == "bounced"


def test_fix_email_then_resend(client, rt, staff06, make_case):
    case = make_case("bounced", email="eloise.martn@ac-nice.fr")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    done = client.post(
        f"/admin/dossiers/{case.id}/corriger-email",
        data={
            "fix-csrf_token": csrf_token(html),
            "fix-version": case.version,
            "fix-email": " Eloise.Martin@ac-nice.fr ",
            "fix-comment": "Faute de frappe.",
        },
        follow_redirects=True,
    )
    assert "Adresse corrigée (eloise.martin@ac-nice.fr) : l'invitation est renvoyée." in _flash(
        text(done)
    )
    assert _state(rt, case.id) == "sending"
    with rt.db.read() as session:
        person = session.get(Mandataire, case.data["mandataire_id"])
        assert person.email == "eloise.martin@ac-nice.fr"
    last = _events(rt, case.id)[-1]
    assert last.trigger == "resend" and last.actor.startswith(f"staff:{staff06.id} ")
    assert last.comment == (
        "Email corrigé : eloise.martn@ac-nice.fr → eloise.martin@ac-nice.fr. Faute de frappe."
    )


def test_retry_a_failed_step(client, rt, staff06, make_case):
    case = make_case("failed")
    with rt.db.read() as session:
        step_id = session.scalars(select(Step.id).where(Step.case_id == case.id)).one()
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    assert "SMTP injoignable" in html and "<details>" in html
    assert _recommended(html) == f"action-step{step_id}"
    done = client.post(
        f"/admin/dossiers/{case.id}/etapes/{step_id}/relancer",
        data={
            f"step{step_id}-csrf_token": csrf_token(html),
            f"step{step_id}-version": case.version,
            f"step{step_id}-comment": "SMTP rétabli",
        },
        follow_redirects=True,
    )
    assert "L'étape « Envoi de l'invitation » est relancée." in _flash(text(done))
    with rt.db.read() as session:
        step = session.get(Step, step_id)
        assert step.status == StepStatus.PENDING.value and step.attempts == 0
        assert session.get(Case, case.id).stuck_reason is None
    assert _events(rt, case.id)[-1].comment == "SMTP rétabli"


def test_fix_email_also_corrects_the_name_and_closes_a_hand_opened_task(
    client, rt, staff06, make_case
):
    case = make_case("bounced", email="inconnu@ac-nice.fr")
    with rt.engine.transaction() as tx:
        person = tx.session.get(Mandataire, case.data["mandataire_id"])
        person.first_name, person.last_name = "Inconnu", "Destinataire"
        title = "Demander la bonne adresse à l'école"
        task_id = manual_task(tx, tx.lock(case.id), title, days=1, by=Actor.staff(staff06)).id
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    assert 'name="fix-first_name"' in html and 'value="Inconnu"' in html
    assert "Demander la bonne adresse à l'école (dossier n° " in html
    with rt.db.read() as session:
        version = session.get(Case, case.id).version
    done = client.post(
        f"/admin/dossiers/{case.id}/corriger-email",
        data={
            "fix-csrf_token": csrf_token(html),
            "fix-version": version,
            "fix-email": "eloise.martin@ac-nice.fr",
            "fix-first_name": "Éloïse",
            "fix-last_name": " Martin ",
            "fix-close_tasks": str(task_id),
            "fix-comment": "Appel de la directrice.",
        },
        follow_redirects=True,
    )
    assert _flash(text(done)) == [
        "Adresse corrigée (eloise.martin@ac-nice.fr) : l'invitation est renvoyée."
    ]
    assert "Éloïse Martin" in text(done)
    with rt.db.read() as session:
        person = session.get(Mandataire, case.data["mandataire_id"])
        assert person.full_name == "Éloïse Martin"
        assert session.get(Task, task_id).status == "done"
    resend = next(e for e in _events(rt, case.id) if e.trigger == "resend")
    assert "Nom corrigé : Inconnu Destinataire → Éloïse Martin." in resend.comment
