"""The whole invitation journey, through the real broker, worker threads and SMTP server:
import → email received → link → password (a weak one first) → login → ``active``.
Runs on the embedded default (SQLite, in-process broker) and on PostgreSQL + Redis."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from tests.helpers import csrf_token, invitation_link, text_body
from workflows.coop_import import import_coops
from workflows.engine.engine import Actor
from workflows.engine.scheduling import tick
from workflows.models import AD, Case, CaseEvent, Email, Mandataire

CSV = (
    "numero_affiliation;nom_cooperative;ecole;adresse;code_postal;commune;email_ecole;"
    "prenom_mandataire;nom_mandataire;email_mandataire\n"
    "0060104D;Coopérative Sainte-Thérèse;École Sainte-Thérèse;3 rue Pastorelli;06000;Nice;"
    "ce.0060104d@ac-nice.fr;Éloïse;Martin;eloise.martin@ac-nice.fr\n"
).encode()
EMAIL = "eloise.martin@ac-nice.fr"
STRONG = "Cooperative*2026"


def _import(runtime, ad_id: int) -> int:
    with runtime.engine.transaction() as tx:
        ad = tx.session.get(AD, ad_id)
        report = import_coops(tx, ad, CSV, invite=True, actor=Actor.system("test"))
    assert report.created == 1, report.errors
    with runtime.db.read() as s:
        return s.scalars(select(Case.id).where(Case.process == "invitation")).one()


def _state(runtime, case_id: int) -> str:
    with runtime.db.read() as s:
        return s.get(Case, case_id).state


def test_invitation_journey(runtime, client, smtp_server, ad):
    case_id = _import(runtime, ad.id)
    runtime.join()

    [message] = smtp_server.to(EMAIL)
    assert "configurez votre mot de passe" in message["Subject"]
    assert "Bonjour Éloïse" in text_body(message)
    assert _state(runtime, case_id) == "invited"
    path = urlsplit(invitation_link(message)).path

    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Configuration du mot de passe" in html and "Confirmez votre mot de passe" in html

    weak = client.post(
        path, data={"csrf_token": csrf_token(html), "password": "eloise", "confirmation": "eloise"}
    )
    assert weak.status_code == 422
    body = weak.get_data(as_text=True)
    for rule in (
        "au moins un chiffre",
        "lettre majuscule",
        "caractère spécial",
        "au moins 8 caractères",
        "votre prénom",
    ):
        assert rule in body, rule
    assert _state(runtime, case_id) == "invited"

    done = client.post(
        path, data={"csrf_token": csrf_token(html), "password": STRONG, "confirmation": STRONG}
    )
    assert done.status_code == 302 and "/connexion" in done.headers["Location"]
    assert _state(runtime, case_id) == "password_set"
    again = client.get(path)
    assert again.status_code == 410 and "déjà été utilisé" in again.get_data(as_text=True)

    login_page = client.get("/connexion").get_data(as_text=True)
    wrong = client.post(
        "/connexion",
        data={"csrf_token": csrf_token(login_page), "email": EMAIL, "password": "Mauvais*2026"},
    )
    assert wrong.status_code == 401 and "incorrect" in wrong.get_data(as_text=True)
    ok = client.post(
        "/connexion",
        data={"csrf_token": csrf_token(login_page), "email": EMAIL, "password": STRONG},
    )
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/mon-espace")
    assert _state(runtime, case_id) == "active"
    home = client.get("/mon-espace").get_data(as_text=True)
    assert "Coopérative Sainte-Thérèse" in home and "Compte actif" in home

    with runtime.db.read() as s:
        trail = [
            (e.trigger, e.to_state, e.actor)
            for e in s.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case_id, CaseEvent.kind == "transition")
                .order_by(CaseEvent.id)
            )
        ]
        mandataire = s.scalars(select(Mandataire)).one()
    assert [t[:2] for t in trail] == [
        ("invite", "sending"),
        ("sent", "invited"),
        ("set_password", "password_set"),
        ("first_login", "active"),
    ]
    assert trail[-1][2] == f"mandataire:{mandataire.id} Éloïse Martin"
    assert mandataire.password_hash.startswith("$argon2id$")

    logout = client.post("/deconnexion", data={"csrf_token": csrf_token(home)})
    assert logout.status_code == 302
    assert client.get("/mon-espace").status_code == 302


def test_reminders_expiry_and_resend_by_moving_the_clock(runtime, client, smtp_server, clock, ad):
    case_id = _import(runtime, ad.id)
    runtime.join()
    first_link = invitation_link(smtp_server.to(EMAIL)[0])

    clock.advance(timedelta(days=3, minutes=1))
    tick(runtime.engine)
    runtime.join()
    reminders = smtp_server.to(EMAIL)[1:]
    assert len(reminders) == 1 and "Rappel" in reminders[0]["Subject"]
    assert "N'avez-vous pas négligé un courrier" in text_body(reminders[0])
    assert invitation_link(reminders[0]) == first_link  # same link, still valid

    clock.advance(timedelta(days=3))
    tick(runtime.engine)
    runtime.join()
    assert len(smtp_server.to(EMAIL)) == 3

    clock.advance(timedelta(days=1))
    tick(runtime.engine)
    runtime.join()
    with runtime.db.read() as s:
        case = s.get(Case, case_id)
        assert (case.state, case.stuck_reason, case.stuck_action) == (
            "expired",
            "invitation_expired",
            "resend",
        )
    expired = client.get(urlsplit(first_link).path)
    assert expired.status_code == 410 and "expiré" in expired.get_data(as_text=True)

    with runtime.engine.transaction() as tx:
        tx.fire(case_id, "resend", actor=Actor("staff", 1, "Claire"), comment="relance")
    runtime.join()
    assert _state(runtime, case_id) == "invited"
    new_link = invitation_link(smtp_server.to(EMAIL)[-1])
    assert new_link != first_link
    assert client.get(urlsplit(new_link).path).status_code == 200


def test_an_address_refused_by_the_mail_server_bounces(runtime, smtp_server, ad):
    smtp_server.refused.add(EMAIL)
    case_id = _import(runtime, ad.id)
    runtime.join()
    with runtime.db.read() as s:
        case = s.get(Case, case_id)
        email = s.scalars(select(Email)).one()
    assert case.state == "bounced" and case.stuck_reason == "invitation_bounced"
    assert EMAIL in case.stuck_message and "550" in case.stuck_message
    assert case.stuck_action == "fix_email"
    assert email.status == "refused"
    assert smtp_server.messages == []
