"""The card_order emails to the mandataire run by the workers' runner, on both
backends, read back (recipient, subject, body in text and HTML): shipped (tracked, or
sent on / handed over by the AD after it came back), activated (the PIN, the mandataire
responsible for the card), back at the AD, the address refused (staff's reason), the
reminders by state; each sent once however often its step runs; a case that lacks what
its email says fails for good with its French message and sends nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from tests.card_helpers import STAFF, card_at
from tests.transfer_helpers import fire
from tests.workers.steps.test_invitation import Services
from tests.workers.steps.test_kyc_steps import emails, run
from tests.workers.steps.test_transfer_steps import step_row
from workers.steps.card_emails import NO_REASON, NO_RETURN
from workflows.models import Case, CaseEvent, Mandataire
from workflows.typography import la_cooperative

PORTAL = "/mon-espace/carte"


@pytest.fixture
def services(settings, engine, smtp_server) -> Services:
    return Services(settings, engine, smtp_server.url)


def plain(text: str) -> str:
    """``text`` with its French spaces (non-breaking, thin) and line ends as spaces."""
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def mandataire_of(engine, case: Case) -> Mandataire:
    with engine.db.read() as s:
        person = s.query(Mandataire).filter(Mandataire.coop_id == case.coop_id).one()
        s.expunge(person)
        return person


def keep(engine, case_id: int, **data) -> None:
    with engine.transaction() as tx:
        locked = tx.lock(case_id)
        locked.data = {**(locked.data or {}), **data}


def one(engine, case_id: int, kind: str):
    found = [e for e in emails(engine, case_id) if e.kind == kind]
    assert len(found) == 1, [e.subject for e in found]
    return found[0]


def test_shipped_says_where_the_tracking_number_and_when(services, engine, ad, smtp_server):
    case = card_at(engine, ad, "shipped")
    person = mandataire_of(engine, case)
    keep(
        engine,
        case.id,
        card={
            "status": "ToActivate",
            "tracking_number": "6A12345678901",
            "estimated_delivery": "2026-11-12",
        },
    )
    run(services, case.id, "notify_shipped", times=2)

    email = one(engine, case.id, "shipped")
    assert email.to_address == person.email
    coop = la_cooperative(person.coop.name)
    assert plain(email.subject) == f"La carte bancaire de {coop} est envoyée"
    body = plain(email.text_body)
    assert "est envoyée par la banque à cette adresse : 4 avenue Thiers 06000 Nice" in body
    assert "Numéro de suivi : 6A12345678901" in body
    assert "Livraison prévue le 12/11/2026" in body
    assert "activez-la" in body and "renvoyée" not in body
    link = f"{services.settings.base_url}{PORTAL}"
    assert link in email.text_body and f'href="{link}"' in email.html_body
    assert "6A12345678901" in email.html_body and "12/11/2026" in email.html_body
    assert len(smtp_server.to(person.email)) == 1


def test_shipped_without_tracking_says_none(services, engine, ad):
    case = card_at(engine, ad, "shipped")
    run(services, case.id, "notify_shipped")

    body = plain(one(engine, case.id, "shipped").text_body)
    assert "est envoyée par la banque" in body
    assert "Numéro de suivi" not in body and "Livraison prévue" not in body


@pytest.mark.parametrize(
    ("trigger", "subject", "says"),
    [
        (
            "resend",
            "vous est renvoyée par votre AD",
            "arrivée aux bureaux de votre AD le 20/11/2026 au lieu de l'école, vous est "
            "renvoyée par votre AD à cette adresse : 4 avenue Thiers 06000 Nice",
        ),
        (
            "hand_over",
            "vous a été remise : activez-la",
            "Votre AD vous a remis la carte bancaire",
        ),
    ],
    ids=["resent", "handed over"],
)
def test_a_card_back_at_the_ad_sent_on_says_so(services, engine, ad, trigger, subject, says):
    case = card_at(engine, ad, "returned_to_ad")
    keep(
        engine,
        case.id,
        card={"tracking_number": "6A12345678901"},
        **{"return": {"received_on": "2026-11-20", "by": STAFF.name, "outcome": trigger}},
    )
    fire(engine, case.id, trigger, actor=STAFF)
    run(services, case.id, "notify_shipped")

    email = one(engine, case.id, "shipped")
    assert plain(email.subject).endswith(subject)
    body = plain(email.text_body)
    assert says in body
    assert "est envoyée par la banque" not in body
    # The bank's tracking number followed its parcel, not the AD's.
    assert "Numéro de suivi" not in body and "6A12345678901" not in email.html_body


def test_activated_says_how_to_find_the_pin(services, engine, ad):
    case = card_at(engine, ad, "activated")
    person = mandataire_of(engine, case)
    run(services, case.id, "notify_activated", times=2)

    email = one(engine, case.id, "activated")
    assert email.to_address == person.email
    assert plain(email.subject).endswith("est activée")
    for text in (plain(email.text_body), plain(email.html_body)):
        assert "Pour retrouver son code PIN" in text
        assert "onglet « Carte physique »" in text
        assert "vous êtes désormais responsable de l'utilisation de la carte bancaire" in text


def test_returned_says_the_ad_will_send_it_on(services, engine, ad):
    case = card_at(engine, ad, "returned_to_ad")
    person = mandataire_of(engine, case)
    run(services, case.id, "notify_returned", times=2)

    email = one(engine, case.id, "returned")
    assert email.to_address == person.email
    assert plain(email.subject).endswith("est arrivée à votre AD")
    body = plain(email.text_body)
    assert "arrivée aux bureaux de votre AD le 20/11/2026, au lieu de l'école" in body
    assert "Votre AD va vous la renvoyer ou vous la remettre" in body
    assert "Vous n'avez pas à commander une autre carte" in body


def test_returned_without_its_day_fails_for_good(services, engine, ad):
    case = card_at(engine, ad, "returned_to_ad")
    with engine.transaction() as tx:  # what the history had, lost
        tx.session.execute(
            update(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.trigger == "record_return")
            .values(payload={})
        )
    step_id = run(services, case.id, "notify_returned")

    step = step_row(engine, step_id)
    assert step.status == "failed" and step.last_error == NO_RETURN
    assert [e for e in emails(engine, case.id) if e.kind == "returned"] == []


def test_address_refused_gives_the_reason(services, engine, ad):
    case = card_at(engine, ad, "requested")
    person = mandataire_of(engine, case)
    reason = "Livrez-la à l'école : la mairie y reçoit le courrier l'été."
    fire(engine, case.id, "refuse_address", actor=STAFF, reason=reason)
    run(services, case.id, "notify_address_refused", times=2)

    email = one(engine, case.id, "address_refused")
    assert email.to_address == person.email
    assert plain(email.subject).startswith("Adresse de livraison de la carte de la")
    body = plain(email.text_body)
    assert "refusé l'adresse de livraison demandée" in body
    assert "9 rue Droite 06000 Nice" in body
    assert f"Son motif : {plain(reason)}" in body
    assert "Aucune carte n'a été commandée" in body
    assert "livrée à l'adresse de l'école" in body
    assert "la mairie y reçoit le courrier" in email.html_body


def test_address_refused_without_a_reason_fails_for_good(services, engine, ad):
    case = card_at(engine, ad, "requested")
    fire(engine, case.id, "refuse_address", actor=STAFF, reason="Non.")
    with engine.transaction() as tx:
        tx.session.execute(
            update(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.trigger == "refuse_address")
            .values(payload={"reason": "  "})
        )
    step_id = run(services, case.id, "notify_address_refused")

    assert step_row(engine, step_id).last_error == NO_REASON
    assert [e for e in emails(engine, case.id) if e.kind == "address_refused"] == []


def test_the_consent_reminder_gives_swans_link(services, engine, ad):
    case = card_at(engine, ad, "consent_pending")
    consent = "https://sandbox.swan.io/consent/abc123"
    keep(engine, case.id, card={"status": "ConsentPending", "consent_url": consent})
    fire(engine, case.id, "relaunch_consent", actor=STAFF)
    run(services, case.id, "send_reminder", times=2)

    email = one(engine, case.id, "reminder")
    assert plain(email.subject).startswith("Rappel : donnez votre accord à la banque")
    body = plain(email.text_body)
    assert "La banque attend votre accord" in body and consent in body
    assert f'href="{consent}"' in email.html_body
    assert "activez-la" not in body


def test_the_activation_reminder_asks_to_activate(services, engine, ad):
    case = card_at(engine, ad, "shipped")
    keep(engine, case.id, card={"estimated_delivery": "2026-11-12"})
    fire(engine, case.id, "relaunch_activation", actor=STAFF)
    run(services, case.id, "send_reminder")

    email = one(engine, case.id, "reminder")
    assert plain(email.subject).startswith("Rappel : activez la carte bancaire")
    body = plain(email.text_body)
    assert "(livraison prévue le 12/11/2026) et n'est pas encore activée" in body
    assert "Si elle n'est pas arrivée à l'école, prévenez votre AD" in body
    assert "accord" not in body
