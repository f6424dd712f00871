"""The « Dossiers » list and the case page's actions, through the real engine."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import factories
from tests.admin.conftest import csrf_token, log_in, text
from workflows.models import Case, CaseEvent, Mandataire, Step, StepStatus


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


def test_the_list_shows_stuck_cases_first_oldest_first(client, staff06, make_case):
    calm = make_case("created")
    first = make_case("expired")
    second = make_case("bounced")
    log_in(client, staff06)
    html = text(client.get("/admin/dossiers/"))
    order = [int(n) for n in re.findall(r'href="/admin/dossiers/(\d+)"', html)]
    assert order == [first.id, second.id, calm.id]
    assert "Lien expiré" in html and "Adresse refusée par le serveur de messagerie" in html

    stuck_only = text(client.get("/admin/dossiers/?flt0_2=1"))
    assert re.findall(r'href="/admin/dossiers/(\d+)"', stuck_only) == [
        str(first.id),
        str(second.id),
    ]
    by_state = text(client.get("/admin/dossiers/?flt0_1=created"))
    assert re.findall(r'href="/admin/dossiers/(\d+)"', by_state) == [str(calm.id)]


def test_resend_an_expired_invitation_from_the_case_page(client, rt, staff06, make_case):
    case = make_case("expired")
    log_in(client, staff06)
    html = text(client.get(f"/admin/dossiers/{case.id}"))
    assert "Le mandataire n'a pas utilisé son lien d'invitation à temps." in html
    assert 'href="#action-resend"' in html  # the recommended action

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
    assert message.startswith("Action « set_password » impossible")
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
    assert 'href="#action-fix"' in html
    refused = client.post(
        f"/admin/dossiers/{case.id}/corriger-email",
        data={
            "fix-csrf_token": csrf_token(html),
            "fix-version": case.version,
            "fix-email": new_email,
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
    assert f'href="#action-step{step_id}"' in html
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
