"""« Solde Banque Postale »: why it waits, the attestation (the three statements of seed
002 each a required box, the old account of La Banque Postale, the balance typed the
French way or not), each refusal in French next to its field with nothing stored, the
attestation kept once whatever the clicks, then each later state: the letter to
download once rendered, the balance declared, the funds received; another coop's
mandataire sees none of it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.factories import StaffFactory
from tests.helpers import active_account, case_of, csrf_token
from tests.test_typography import assert_french, read
from tests.transfer_helpers import OLD_ACCOUNT, attested, banking_done, fire
from tests.web.conftest import form_value, log_in_mandataire, text
from tests.workflows.processes.test_iban_rib_checks import wrong_rib_key
from web.portal.attestation_form import BALANCE_REQUIRED, unticked
from workflows.engine.engine import Actor
from workflows.models import AD, Case, CaseEvent, Document, Mandataire
from workflows.processes.banque_postale_transfer.attestation import (
    NOT_THE_BANK,
    OLD_ACCOUNT_REQUIRED,
    funds_payload,
)
from workflows.processes.banque_postale_transfer.definition import STATEMENTS
from workflows.processes.iban import rib_checks

PAGE = "/mon-espace/solde-banque-postale"
PROCESS = "banque_postale_transfer"
#: The old account as a statement prints it: in groups, in lower case once copied.
TYPED_ACCOUNT = "fr51 2004 1010 0501 2345 6a02 084"
CREDIT_AGRICOLE = "FR7630006000011234567890189"
GOOD = {
    "cheques_issued": "y",
    "cheques_deposited": "y",
    "no_operation": "y",
    "old_account": TYPED_ACCOUNT,
    "balance": "1 800,00",
}
PDF = b"%PDF-1.7\n" + b"0" * 300


# --- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
def quiet(runtime) -> Iterator[None]:
    """The steps the cases queue are not run: the letters' PDFs are the steps' tests';
    here a document is stored as the step would store it (:func:`rendered`)."""
    publisher, runtime.engine.publisher = runtime.engine.publisher, None
    yield
    runtime.engine.publisher = publisher


def log_in(runtime, app, client, person: Mandataire) -> None:
    """``person``'s session (a password set, as any mandataire with an account has)."""
    with runtime.db.write() as session:
        session.get(Mandataire, person.id).password_hash = "argon2-hash-of-the-tests"
    log_in_mandataire(app, client, person.id)


@pytest.fixture
def mandataire(runtime, app, client, ad, quiet):
    """A mandataire whose identity is verified and account certified (the transfer
    awaiting the attestation), logged in."""
    person = banking_done(runtime.engine, ad)
    log_in(runtime, app, client, person)
    return person


def html_of(client, path: str = PAGE) -> str:
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<h1") == 1
    assert_french(path, read(html))  # « : ; ! ? » and « » that hold
    return html


def spaced(said: str) -> str:
    """French typography's spaces that hold (before « : », in « 1 800,00 € ») as plain ones."""
    return said.replace("\u00a0", " ").replace("\u202f", " ")


def plain(html: str) -> str:
    """The page's words on one line, as a reader reads them (a term and its value
    apart)."""
    return " ".join(spaced(read(html.replace("<", " <"))).split())


def error(html: str, field: str) -> str | None:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]+)</p>', html)
    return spaced(found.group(1)).replace("&#39;", "'") if found else None


def post(client, html: str | None = None, path: str = PAGE, **fields: Any):
    """The form of ``html`` (the page as it is now by default) with ``fields`` (``None``
    leaves a field out, as an unticked box is)."""
    html = html or html_of(client)
    data = {**GOOD, **fields}
    data = {k: v for k, v in data.items() if v is not None}
    data["csrf_token"] = csrf_token(html)
    if 'name="submission"' in html:
        data["submission"] = form_value(html, "submission")
    return client.post(path, data=data)


def transfer(runtime, coop_id: int) -> Case:
    return case_of(runtime.engine, coop_id, PROCESS)


def rendered(runtime, case: Case, kind: str, title: str) -> int:
    """A PDF of ``kind`` stored for ``case`` as its step stores it; its id."""
    with runtime.engine.transaction() as tx:
        document = Document(
            idempotency_key=f"test:{kind}:{case.id}",
            coop_id=case.coop_id,
            case_id=case.id,
            kind=kind,
            title=title,
            filename=f"{kind}.pdf",
            content=PDF,
            sha256=hashlib.sha256(PDF).hexdigest(),
            size=len(PDF),
            created_at=tx.now,
        )
        tx.session.add(document)
        tx.session.flush()
        return document.id


def letter_ready(runtime, ad: AD, mandataire=None, declared_cents: int = 180000) -> Case:
    """Attested, the letter rendered (as ``render_transfer_request`` does): ready to send."""
    _, case = attested(runtime.engine, ad, declared_cents, mandataire)
    rendered(runtime, case, "transfer_request", "Demande de clôture et de reversement du solde")
    return fire(runtime.engine, case.id, "letter_ready")


def funds(runtime, case: Case, ad: AD, received_cents: int, on: date) -> Case:
    """The funds recorded by staff as the back-office records them."""
    staff = Actor.staff(StaffFactory(ad=ad))
    with runtime.engine.transaction() as tx:
        locked = tx.lock(case.id)
        payload = funds_payload(
            locked, locked.coop.ad, received_cents=received_cents, received_on=on, source="staff"
        )
        locked.data = {
            **locked.data,
            "funds": {
                "received_cents": received_cents,
                "received_on": on.isoformat(),
                "source": "staff",
                "recorded_by": staff.name,
            },
        }
        tx.fire(case.id, "funds_received", actor=staff, payload=payload)
    return transfer(runtime, case.coop_id)


def attest_events(runtime, case_id: int) -> list[CaseEvent]:
    with runtime.db.read() as s:
        return list(
            s.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.trigger == "attest")
            )
        )


# --- waiting ---------------------------------------------------------------------------


def test_before_the_banking_is_done_the_page_says_what_it_waits_for(runtime, app, client, ad):
    person = active_account(runtime.engine, ad)
    log_in(runtime, app, client, person)
    words = plain(html_of(client))
    assert "Disponible quand votre identité sera vérifiée." in words
    assert "Disponible quand le compte bancaire de la coopérative sera certifié." in words
    assert "Envoyer l'attestation" not in words
    refused = post(client, html_of(client))
    assert refused.status_code == 409
    assert "n'a pas encore commencé" in text(refused)


# --- the form --------------------------------------------------------------------------


def test_the_attestation_reads_as_seed_002(runtime, client, mandataire):
    html = html_of(client)
    words = plain(html)
    assert "À faire : remplissez l'attestation pour recevoir le solde" in words
    assert "Répondez impérativement à ce formulaire, sinon… vous attendrez en vain le solde." in (
        words
    )
    for name, statement in STATEMENTS.items():
        assert re.search(rf'<input[^>]*id="{name}"[^>]*type="checkbox"', html), name
        assert f'<label for="{name}">{statement}</label>' in html.replace("&#39;", "'")
    assert '<label for="old_account">Numéro du compte La Banque Postale (IBAN)</label>' in html
    assert '<label for="balance">Solde du compte (en euros)</label>' in html
    assert re.search(r'<input[^>]*inputmode="decimal"[^>]*name="balance"', html) or re.search(
        r'<input[^>]*name="balance"[^>]*inputmode="decimal"', html
    )
    assert '<meta http-equiv="refresh"' not in html and "<script" not in html


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        *[({name: None}, name, unticked(statement)) for name, statement in STATEMENTS.items()],
        ({"old_account": "  "}, "old_account", OLD_ACCOUNT_REQUIRED),
        ({"old_account": CREDIT_AGRICOLE}, "old_account", NOT_THE_BANK),
        ({"old_account": "FR5120041010050123456A02085"}, "old_account", "IBAN invalide"),
        ({"old_account": wrong_rib_key(OLD_ACCOUNT)}, "old_account", rib_checks.IBAN_BAD_RIB_KEY),
        ({"balance": ""}, "balance", BALANCE_REQUIRED),
        ({"balance": "-12,00"}, "balance", "Le montant ne peut pas être négatif."),
        ({"balance": "−5"}, "balance", "Le montant ne peut pas être négatif."),
        ({"balance": "douze euros"}, "balance", "Indiquez un montant en euros, par exemple 12,50."),
        ({"balance": "12,505"}, "balance", "Indiquez un montant en euros, par exemple 12,50."),
        ({"balance": "2 000 000,00"}, "balance", "Le montant ne peut pas dépasser 1 000 000,00 €."),
    ],
    ids=[
        *[f"unticked-{name}" for name in STATEMENTS],
        "account-missing",
        "account-not-la-banque-postale",
        "account-check-digits",
        "account-rib-key",
        "balance-missing",
        "balance-negative",
        "balance-minus-sign",
        "balance-words",
        "balance-three-decimals",
        "balance-absurd",
    ],
)
def test_a_refusal_is_said_next_to_its_field_and_nothing_is_stored(
    runtime, client, mandataire, fields, field, message
):
    before = transfer(runtime, mandataire.coop_id)
    refused = post(client, **fields)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert_french(PAGE, read(html))
    said = error(html, field)
    assert said is not None and spaced(message) in said, (said, message)
    assert re.search(rf'<input[^>]*aria-invalid="true"[^>]*id="{field}"', html) or re.search(
        rf'<input[^>]*id="{field}"[^>]*aria-invalid="true"', html
    )
    assert "Rien n'a été enregistré" in plain(html) and f'href="#{field}"' in html
    if field == "balance" and fields["balance"].strip():  # what was typed, to correct
        assert f'value="{fields["balance"]}"' in html
    after = transfer(runtime, mandataire.coop_id)
    assert (after.state, after.version) == ("awaiting_attestation", before.version)
    assert "attestation" not in after.data
    assert attest_events(runtime, after.id) == []


def test_every_box_unticked_is_said_next_to_each(runtime, client, mandataire):
    refused = post(client, cheques_issued=None, cheques_deposited=None, no_operation=None)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    for name, statement in STATEMENTS.items():
        assert error(html, name) == spaced(unticked(statement))
    assert "corrigez les champs signalés" in plain(html)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("1 800,50", 180050),
        ("1800.5", 180050),
        ("1 800", 180000),
        ("1\u202f800,50 €", 180050),
        ("0,00", 0),
    ],
    ids=["comma-and-space", "dot", "whole-euros", "pasted-with-the-sign", "empty-account"],
)
def test_the_balance_is_read_in_cents_however_it_is_typed(
    runtime, client, mandataire, typed, cents
):
    assert post(client, balance=typed).status_code == 302
    data = transfer(runtime, mandataire.coop_id).data["attestation"]
    assert data["declared_cents"] == cents and isinstance(data["declared_cents"], int)


def test_the_attestation_is_kept_once_and_attest_fired(runtime, client, clock, mandataire):
    html = html_of(client)
    first = post(client, html)
    second = post(client, html)  # a double click: the same rendering, the same values
    assert first.status_code == 302 and first.headers["Location"] == PAGE
    assert second.status_code == 303 and second.headers["Location"] == PAGE
    case = transfer(runtime, mandataire.coop_id)
    assert case.state == "attested"
    attestation = case.data["attestation"]
    assert attestation == {
        "cheques_issued": True,
        "cheques_deposited": True,
        "no_operation": True,
        "old_account": OLD_ACCOUNT,  # compact, upper case
        "declared_cents": 180000,
        "attested_at": attestation["attested_at"],
        "attested_by": "Éloïse Martin",
        "ip": "127.0.0.1",
    }
    at = datetime.fromisoformat(attestation["attested_at"])
    assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0
    assert timedelta(0) <= clock.now() - at < timedelta(seconds=10)
    [event] = attest_events(runtime, case.id)
    assert event.actor.startswith("mandataire") and event.payload["declared_cents"] == 180000

    # While the letter is prepared, the page says so and reloads itself.
    html = html_of(client)
    words = plain(html)
    assert "Votre attestation est enregistrée" in words
    assert "La lettre à La Banque Postale est en préparation" in words
    assert f'<meta http-equiv="refresh" content="3; url={PAGE}">' in html
    assert "Solde déclaré 1 800,00 €" in words and "FR51 2004 1010 0501 2345 6A02 084" in words
    assert "Attestée le 07/09/2026 par Éloïse Martin" in words
    assert "Envoyer l'attestation" not in words


def test_a_second_tab_cannot_attest_again(runtime, client, mandataire):
    first_tab, second_tab = html_of(client), html_of(client)
    assert post(client, first_tab).status_code == 302
    again = post(client, second_tab, balance="2 500,00")  # another rendering, other values
    assert again.status_code == 409
    assert "Votre attestation est déjà enregistrée" in text(again)
    case = transfer(runtime, mandataire.coop_id)
    assert case.data["attestation"]["declared_cents"] == 180000
    assert len(attest_events(runtime, case.id)) == 1


# --- after the attestation ---------------------------------------------------------------


def test_the_letter_is_offered_once_rendered(runtime, client, ad, mandataire):
    case = letter_ready(runtime, ad, mandataire)
    assert case.state == "ready_to_send"
    html = html_of(client)
    words = plain(html)
    assert "Attestation reçue : votre AD envoie la demande à La Banque Postale" in words
    assert "Solde déclaré 1 800,00 €" in words
    assert '<meta http-equiv="refresh"' not in html
    with runtime.db.read() as s:
        letter = s.scalars(select(Document).where(Document.kind == "transfer_request")).one()
    assert f'href="/mon-espace/documents/{letter.id}"' in html
    assert "Demande de clôture et de reversement du solde" in words
    download = client.get(f"/mon-espace/documents/{letter.id}")
    assert download.status_code == 200 and download.data == PDF

    staff = Actor.staff(StaffFactory(ad=ad))
    fire(runtime.engine, case.id, "mark_sent", actor=staff)
    with runtime.engine.transaction() as tx:
        locked = tx.lock(case.id)
        letter = {**locked.data.get("letter", {}), "sent_on": "2026-09-10"}
        locked.data = {**locked.data, "letter": letter}
    words = plain(html_of(client))
    assert "Demande envoyée : La Banque Postale doit reverser le solde" in words
    assert "La lettre a été envoyée à La Banque Postale le 10/09/2026." in words
    assert "Demande de clôture et de reversement du solde" in words


def test_the_funds_received_are_shown_with_their_date(runtime, client, ad, mandataire):
    case = letter_ready(runtime, ad, mandataire)
    case = funds(runtime, case, ad, 180050, date(2026, 10, 12))
    assert case.state == "funds_received" and case.stuck_reason is None
    words = plain(html_of(client))
    assert "Solde reçu sur le compte de la coopérative" in words
    assert "Le solde de 1 800,50 € a été reçu sur le compte de la coopérative le 12/10/2026." in (
        words
    )
    assert "diffère" not in words

    staff = Actor.staff(StaffFactory(ad=ad))
    fire(runtime.engine, case.id, "close_account", actor=staff)
    words = plain(html_of(client))
    assert "Ancien compte clos, solde reversé" in words
    assert "L'ancien compte La Banque Postale est clos" in words
    assert "1 800,50 €" in words


def test_an_amount_beyond_the_tolerance_is_said_to_be_checked(runtime, client, ad, mandataire):
    case = letter_ready(runtime, ad, mandataire)
    case = funds(runtime, case, ad, 150000, date(2026, 10, 12))
    assert case.stuck_reason == "transfer_amount_mismatch"
    words = plain(html_of(client))
    assert "Le solde de 1 500,00 € a été reçu" in words
    assert "Ce montant diffère du solde que vous avez déclaré" in words


def test_another_coops_mandataire_sees_nothing_of_it(runtime, app, client, ad, mandataire):
    letter_ready(runtime, ad, mandataire)
    with runtime.db.read() as s:
        letter_id = s.scalars(select(Document.id).where(Document.kind == "transfer_request")).one()
    other = banking_done(runtime.engine, ad)
    theirs = app.test_client()
    log_in(runtime, app, theirs, other)
    html = html_of(theirs)
    assert "remplissez l'attestation" in plain(html)
    assert "FR51 2004" not in html and f"/mon-espace/documents/{letter_id}" not in html
    assert theirs.get(f"/mon-espace/documents/{letter_id}").status_code == 404
    # Their own attestation is theirs: the first coop's case is untouched.
    assert post(theirs, html, balance="10,00").status_code == 302
    mine = transfer(runtime, mandataire.coop_id)
    assert mine.data["attestation"]["declared_cents"] == 180000
    with runtime.db.read() as s:
        attested_cases = s.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.process == PROCESS, Case.state != "awaiting_attestation")
        )
    assert attested_cases == 2
