"""The Banque Postale transfer in the back-office: « Lettres à envoyer » (the waiting
letters of the scope, joined in one PDF, marked sent in bulk with the refused ones said),
a letter marked sent from its case, the funds recorded (within the AD's tolerance, or
stuck with both amounts and explained), La Banque Postale followed up. The cases are
brought where the forms act by the engine (tests/transfer_helpers.py); each letter is a
real PDF stored as the step stores it."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from weasyprint import HTML

from tests.admin.conftest import csrf_token, log_in
from tests.admin.conftest import text as _page_text
from tests.admin.test_iban_forms import STALE, _flash
from tests.helpers import case_of
from tests.transfer_helpers import SYSTEM, attested, banking_done, fire
from workflows.engine.engine import Actor
from workflows.engine.scheduling import tick
from workflows.models import Case, CaseEvent, Coop, Document
from workflows.processes.banque_postale_transfer.attestation import funds_payload

LETTERS = "/admin/lettres-banque-postale/"
_TAG = re.compile(r"<[^>]+>")


def text(response: Any) -> str:
    """The page as read, French amounts' narrow spaces as plain ones (« 1 800,00 € »)."""
    return _page_text(response).replace("\u202f", " ")


def plain(page: str) -> str:
    """The page's words without its tags, its spaces collapsed."""
    return " ".join(_TAG.sub(" ", page).split()).replace(" :", " :")


MISMATCH = (
    "Le montant reçu (1 750,00 €) diffère du solde déclaré (1 800,00 €) de 50,00 €, plus "
    "que la tolérance de l'AD (1,00 €)."
)


def letter_ready(engine: Any, ad: Any, declared_cents: int = 180000) -> Case:
    """A transfer whose letter is made and waits to be posted."""
    return with_letter(engine, attested(engine, ad, declared_cents)[1].id)


def with_letter(engine: Any, case_id: int) -> Case:
    """The attested transfer's letter made (a real PDF naming the coop, stored as the
    step ``render_transfer_request`` stores it): it waits to be posted."""
    case = _case(engine, case_id)
    name = case.coop.name
    pdf = HTML(
        string=f"<h1>Demande de clôture et de reversement du solde</h1><p>Coopérative {name}</p>"
    ).write_pdf()
    with engine.transaction() as tx:
        locked = tx.lock(case.id)
        document = Document(
            idempotency_key=f"letter:{case.id}",
            coop_id=case.coop_id,
            case_id=case.id,
            kind="transfer_request",
            title="Demande de clôture et de reversement du solde",
            filename=f"demande-cloture-banque-postale-{case.coop.affiliation_number}.pdf",
            content=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
            size=len(pdf),
        )
        tx.session.add(document)
        tx.session.flush()
        locked.data = {**locked.data, "letter": {"document_id": document.id}}
        tx.fire(case.id, "letter_ready", actor=SYSTEM)
    return _case(engine, case.id)


def sent(engine: Any, ad: Any, staff: Any) -> Case:
    """A letter posted and marked sent: the funds awaited."""
    case = letter_ready(engine, ad)
    return fire(engine, case.id, "mark_sent", actor=Actor.staff(staff))


def _case(engine: Any, case_id: int) -> Case:
    with engine.db.read() as session:
        found = session.get(Case, case_id, options=[joinedload(Case.coop).joinedload(Coop.ad)])
        assert found is not None
        return found


def _events(rt: Any, case_id: int) -> list[CaseEvent]:
    with rt.db.read() as session:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        return list(session.scalars(query))


def _post(client: Any, url: str, prefix: str, page: str, **fields: Any) -> Any:
    data: dict[str, Any] = {f"{prefix}-csrf_token": csrf_token(page)}
    data.update({f"{prefix}-{name}": value for name, value in fields.items()})
    return client.post(url, data=data)


def _mark(client: Any, page: str, case_ids: list[int], **fields: Any) -> Any:
    data: dict[str, Any] = {"csrf_token": csrf_token(page), "case_id": [str(i) for i in case_ids]}
    data.update(fields)
    return client.post(f"{LETTERS}marquer-envoyees", data=data)


# « Lettres à envoyer » ------------------------------------------------------------------


def test_the_letters_page_lists_the_scopes_waiting_letters(client, rt, ad, ad50, staff06, national):
    mine = [letter_ready(rt.engine, ad) for _ in range(2)]
    theirs = letter_ready(rt.engine, ad50)
    posted = letter_ready(rt.engine, ad)
    fire(rt.engine, posted.id, "mark_sent", actor=Actor.staff(staff06))
    log_in(client, staff06)
    page = text(client.get(LETTERS))
    assert "2 lettres à envoyer" in page
    for case in mine:
        assert f'id="letter-{case.id}"' in page and case.coop.name in page
        assert f'value="{case.id}" id="case-{case.id}" checked' in page
        assert "solde déclaré 1 800,00 €" in page
    assert f'id="letter-{theirs.id}"' not in page and f'id="letter-{posted.id}"' not in page
    assert "Télécharger les lettres du jour (un seul PDF)" in page
    with rt.db.read() as session:
        letter_id = session.scalars(select(Document.id).where(Document.case_id == mine[0].id)).one()
    link = f"/admin/cooperatives/{mine[0].coop_id}/documents/{letter_id}"
    assert link in page
    assert client.get(link).data.startswith(b"%PDF")
    other = client.application.test_client()
    log_in(other, national)
    assert "3 lettres à envoyer" in text(other.get(LETTERS))


def test_the_days_letters_joined_in_one_pdf_hold_every_letter(client, rt, ad, ad50, staff06):
    cases = [letter_ready(rt.engine, ad) for _ in range(3)]
    theirs = letter_ready(rt.engine, ad50)
    log_in(client, staff06)
    response = client.get(f"{LETTERS}lettres.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "lettres-banque-postale-2026-09-07.pdf" in response.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(response.data))
    pages = [" ".join(page.extract_text().split()) for page in reader.pages]
    assert len(pages) == 3  # one page each, in the list's order
    for page, case in zip(pages, cases, strict=True):
        assert "Demande de clôture et de reversement du solde" in page
        assert case.coop.name in page
    assert theirs.coop.name not in " ".join(pages)
    # For a printer on both sides: each letter on its own sheet (a blank back).
    both = client.get(f"{LETTERS}lettres.pdf?recto_verso=1")
    assert len(PdfReader(io.BytesIO(both.data)).pages) == 5


def test_nothing_to_print_says_so(client, rt, ad, staff06):
    log_in(client, staff06)
    assert "Aucune lettre à envoyer." in text(client.get(LETTERS))
    response = client.get(f"{LETTERS}lettres.pdf")
    assert response.status_code == 302
    assert "Aucune lettre à envoyer : rien à télécharger." in _flash(
        text(client.get(response.headers["Location"]))
    )


def test_the_letters_of_one_day_in_paris(client, rt, clock, ad, staff06):
    first = letter_ready(rt.engine, ad)  # 07/09/2026, 09:30 in Paris
    clock.advance(timedelta(hours=16))  # 08/09/2026, 01:30 in Paris (23:30 UTC on the 7th)
    second = letter_ready(rt.engine, ad)
    log_in(client, staff06)
    page = text(client.get(f"{LETTERS}?jour=2026-09-08"))
    assert f'id="letter-{second.id}"' in page and f'id="letter-{first.id}"' not in page
    assert "1 lettre à envoyer prête le 08/09/2026" in page
    joined = client.get(f"{LETTERS}lettres.pdf?jour=2026-09-08")
    assert "lettres-banque-postale-2026-09-08.pdf" in joined.headers["Content-Disposition"]
    [only] = PdfReader(io.BytesIO(joined.data)).pages
    assert second.coop.name in only.extract_text()
    # By hand, dd/mm/yyyy is read too; a day that is none is said, nothing filtered.
    assert f'id="letter-{first.id}"' in text(client.get(f"{LETTERS}?jour=07/09/2026"))
    wrong = text(client.get(f"{LETTERS}?jour=31/02/2026"))
    assert "Date invalide : utilisez le format jj/mm/aaaa." in wrong
    assert "2 lettres à envoyer" in wrong


def test_marked_sent_in_bulk_one_refused_with_why(client, rt, ad, staff06):
    cases = [letter_ready(rt.engine, ad) for _ in range(3)]
    log_in(client, staff06)
    page = text(client.get(LETTERS))
    # A colleague marks one meanwhile, from its own page.
    colleague = client.application.test_client()
    log_in(colleague, staff06)
    letter_page = text(colleague.get(f"/admin/dossiers/{cases[1].id}/banque-postale/lettre"))
    url = f"/admin/dossiers/{cases[1].id}/banque-postale/lettre/envoyee"
    done = _post(
        colleague, url, "sent", letter_page, version=cases[1].version, sent_on="2026-09-06"
    )
    assert done.status_code == 302
    response = _mark(client, page, [c.id for c in cases], sent_on="2026-09-07", comment="Tournée")
    assert response.status_code == 303
    shown = _flash(text(client.get(response.headers["Location"])))
    assert (
        "2 lettres marquées envoyées (le 07/09/2026) : La Banque Postale doit reverser le solde."
        in shown
    )
    assert (
        f"Non marquée : Dossier n° {cases[1].id} : Action « Lettre envoyée » impossible : le "
        "dossier est à l'état « Lettre envoyée, solde attendu de La Banque Postale »." in shown
    )
    for case, day in zip(cases, ("2026-09-07", "2026-09-06", "2026-09-07"), strict=True):
        after = _case(rt.engine, case.id)
        assert after.state == "sent_to_bank"
        assert after.data["letter"] == {
            "document_id": case.data["letter"]["document_id"],
            "sent_on": day,
        }
    event = _events(rt, cases[0].id)[-1]
    assert event.trigger == "mark_sent" and event.payload == {"sent_on": "2026-09-07"}
    assert event.comment == "Lettre envoyée à La Banque Postale le 07/09/2026. Tournée"
    assert event.actor == f"staff:{staff06.id} Claire Agent"
    assert "Aucune lettre à envoyer." in text(client.get(LETTERS))


@pytest.mark.parametrize(
    ("fields", "ticked", "error"),
    [
        ({"sent_on": "2026-09-07"}, False, "Cochez au moins une lettre envoyée."),
        ({"sent_on": ""}, True, "Indiquez la date d'envoi des lettres (jj/mm/aaaa)."),
        ({"sent_on": "2026-09-08"}, True, "La date d'envoi ne peut pas être dans le futur."),
        ({"sent_on": "07-09-2026"}, True, "Date invalide : utilisez le format jj/mm/aaaa."),
    ],
)
def test_a_bulk_marking_refused_changes_nothing(client, rt, ad, staff06, fields, ticked, error):
    case = letter_ready(rt.engine, ad)
    log_in(client, staff06)
    page = text(client.get(LETTERS))
    before = len(_events(rt, case.id))
    response = _mark(client, page, [case.id] if ticked else [], **fields)
    assert response.status_code == 422
    assert error in text(response)
    assert _case(rt.engine, case.id).state == "ready_to_send"
    assert len(_events(rt, case.id)) == before


def test_another_ads_letters_and_read_only_accounts(client, rt, ad, ad50, staff06, readonly06):
    theirs = letter_ready(rt.engine, ad50)
    mine = letter_ready(rt.engine, ad)
    log_in(client, staff06)
    page = text(client.get(LETTERS))
    # Another AD's case ticked by a forged post: refused, untouched.
    response = _mark(client, page, [theirs.id, mine.id], sent_on="2026-09-07")
    shown = _flash(text(client.get(response.headers["Location"])))
    assert f"Non marquée : Dossier n° {theirs.id} : introuvable." in shown
    assert _case(rt.engine, theirs.id).state == "ready_to_send"
    assert _case(rt.engine, mine.id).state == "sent_to_bank"
    # Read-only: the list and the PDF, but nothing to mark.
    other = letter_ready(rt.engine, ad)
    reader = client.application.test_client()
    log_in(reader, readonly06)
    listed = text(reader.get(LETTERS))
    assert f'id="letter-{other.id}"' in listed and 'name="case_id"' not in listed
    assert "Votre compte est en lecture seule" in listed
    assert reader.get(f"{LETTERS}lettres.pdf").status_code == 200
    refused = reader.post(
        f"{LETTERS}marquer-envoyees",
        data={
            "csrf_token": csrf_token(listed),
            "case_id": [str(other.id)],
            "sent_on": "2026-09-07",
        },
    )
    assert refused.status_code == 403
    assert _case(rt.engine, other.id).state == "ready_to_send"


def test_without_the_csrf_token_nothing_is_marked(app, client, rt, ad, staff06):
    app.config["WTF_CSRF_ENABLED"] = True
    case = letter_ready(rt.engine, ad)
    log_in(client, staff06)
    response = client.post(
        f"{LETTERS}marquer-envoyees", data={"case_id": [str(case.id)], "sent_on": "2026-09-07"}
    )
    assert response.status_code == 302
    assert "rien n'a été enregistré" in text(client.get(response.headers["Location"]))
    assert _case(rt.engine, case.id).state == "ready_to_send"


# One case: its letter, its funds ------------------------------------------------------


def test_the_case_page_leads_to_the_letter_and_never_marks_it_bare(client, rt, ad, staff06):
    case = letter_ready(rt.engine, ad)
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case.id}"))
    assert f'href="/admin/dossiers/{case.id}/banque-postale/lettre">Envoyer la lettre' in page
    assert f'href="/admin/dossiers/{case.id}/banque-postale/fonds">Enregistrer les fonds' in page
    assert 'id="action-mark_sent"' not in page
    assert "Demande de clôture et de reversement du solde" in page  # its documents
    letter = text(client.get(f"/admin/dossiers/{case.id}/banque-postale/lettre"))
    assert "1 800,00 €" in letter and "FR51 2004 1010 0501 2345 6A02 084" in letter
    assert "FR76 3000 6000 0112 3456 7890 189" in letter  # the new account, whole
    bare = client.post(
        f"/admin/dossiers/{case.id}/declencher/mark_sent",
        data={
            "mark_sent-csrf_token": csrf_token(page),
            "mark_sent-version": case.version,
            "mark_sent-comment": "Posté",
        },
    )
    assert bare.status_code == 302
    assert _case(rt.engine, case.id).state == "ready_to_send"


def test_a_letter_marked_sent_from_its_page_and_a_stale_page(client, rt, ad, staff06):
    case = letter_ready(rt.engine, ad)
    log_in(client, staff06)
    url = f"/admin/dossiers/{case.id}/banque-postale/lettre"
    page = text(client.get(url))
    assert 'value="2026-09-07"' in page  # today proposed
    future = _post(
        client, f"{url}/envoyee", "sent", page, version=case.version, sent_on="2026-09-09"
    )
    assert future.status_code == 422
    assert "La date d'envoi ne peut pas être dans le futur." in text(future)
    stale = _post(
        client, f"{url}/envoyee", "sent", page, version=case.version - 1, sent_on="2026-09-07"
    )
    assert any(STALE in m for m in _flash(text(client.get(stale.headers["Location"]))))
    assert _case(rt.engine, case.id).state == "ready_to_send"
    done = _post(client, f"{url}/envoyee", "sent", page, version=case.version, sent_on="07/09/2026")
    assert "Lettre marquée envoyée" in " ".join(_flash(text(client.get(done.headers["Location"]))))
    after = _case(rt.engine, case.id)
    assert after.state == "sent_to_bank" and after.data["letter"]["sent_on"] == "2026-09-07"
    gone = text(client.get(client.get(url).headers["Location"]))
    assert "Cette tâche n'est plus à faire sur ce dossier" in gone


def _funds(client: Any, case: Case, page: str, **fields: Any) -> Any:
    url = f"/admin/dossiers/{case.id}/banque-postale/fonds/enregistrer"
    return _post(client, url, "funds", page, version=case.version, **fields)


def test_funds_within_the_tolerance(client, rt, ad, staff06):
    case = sent(rt.engine, ad, staff06)
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case.id}/banque-postale/fonds"))
    assert "1 800,00 €" in page and "1,00 € d'écart avec le solde déclaré" in page
    response = _funds(client, case, page, amount="1 799,50", received_on="2026-09-05")
    shown = " ".join(_flash(text(client.get(response.headers["Location"]))))
    assert "Fonds enregistrés : 1 799,50 € reçus le 05/09/2026." in shown
    after = _case(rt.engine, case.id)
    assert (after.state, after.stuck_reason) == ("funds_received", None)
    assert after.data["funds"] == {
        "received_cents": 179950,
        "received_on": "2026-09-05",
        "source": "staff",
        "recorded_by": "Claire Agent",
    }
    [event] = [e for e in _events(rt, case.id) if e.trigger == "funds_received"]
    assert event.payload["received_cents"] == 179950 and event.payload["declared_cents"] == 180000
    assert event.payload["recorded_by"] == "Claire Agent"


def test_funds_beyond_the_tolerance_stuck_with_both_amounts_then_explained(client, rt, ad, staff06):
    case = sent(rt.engine, ad, staff06)
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case.id}/banque-postale/fonds"))
    response = _funds(client, case, page, amount="1750", received_on="2026-09-07")
    shown = " ".join(_flash(text(client.get(response.headers["Location"]))))
    assert "ils diffèrent du solde déclaré (1 800,00 €)" in shown
    stuck = _case(rt.engine, case.id)
    assert stuck.stuck_reason == "transfer_amount_mismatch"
    case_page = text(client.get(f"/admin/dossiers/{case.id}"))
    assert MISMATCH in case_page
    assert "Action recommandée : Vérifier le montant reçu" in plain(case_page)
    assert 'id="action-check_amount"' in case_page
    url = f"/admin/dossiers/{case.id}/banque-postale/ecart"
    fields = {
        "check_amount-version": stuck.version,
        "check_amount-csrf_token": csrf_token(case_page),
    }
    empty = client.post(url, data={**fields, "check_amount-comment": "  "})
    assert empty.status_code == 422
    assert "Expliquez l'écart entre le montant reçu et le solde déclaré" in text(empty)
    assert _case(rt.engine, case.id).stuck_reason == "transfer_amount_mismatch"
    explained = client.post(
        url, data={**fields, "check_amount-comment": "Frais de clôture de 50 € retenus."}
    )
    shown = " ".join(_flash(text(client.get(explained.headers["Location"]))))
    assert "Écart de montant expliqué" in shown
    after = _case(rt.engine, case.id)
    assert (after.state, after.stuck_reason) == ("funds_received", None)
    [event] = [e for e in _events(rt, case.id) if e.trigger == "accept_amount"]
    assert event.comment == "Frais de clôture de 50 € retenus."


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"amount": ""}, "amount", "Indiquez le montant en euros, par exemple 1 800,00."),
        ({"amount": "-1800"}, "amount", "Le montant ne peut pas être négatif."),
        ({"amount": "0,00"}, "amount", "Le montant doit être supérieur à 0,00 €."),
        ({"amount": "mille"}, "amount", "Indiquez un montant en euros, par exemple 12,50."),
        ({"amount": "2 000 000"}, "amount", "Le montant ne peut pas dépasser 1 000 000,00 €."),
        ({"received_on": ""}, "received_on", "Indiquez la date de réception des fonds"),
        ({"received_on": "2026-09-08"}, "received_on", "ne peut pas être dans le futur."),
    ],
)
def test_bad_funds_are_refused_in_french_and_change_nothing(
    client, rt, ad, staff06, fields, field, error
):
    case = sent(rt.engine, ad, staff06)
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case.id}/banque-postale/fonds"))
    before = len(_events(rt, case.id))
    response = _funds(
        client, case, page, **{"amount": "1 800", "received_on": "2026-09-07", **fields}
    )
    assert response.status_code == 422
    shown = text(response)
    assert f'id="funds-{field}"' in shown and error in shown
    after = _case(rt.engine, case.id)
    assert after.state == "sent_to_bank" and "funds" not in after.data
    assert len(_events(rt, case.id)) == before


def test_funds_of_a_letter_posted_but_not_marked(client, rt, ad, staff06):
    case = letter_ready(rt.engine, ad)
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case.id}/banque-postale/fonds"))
    response = _funds(client, case, page, amount="1800.00", received_on="2026-09-07")
    assert response.status_code == 302
    assert _case(rt.engine, case.id).state == "funds_received"


def test_no_funds_after_30_days_then_the_bank_followed_up(client, rt, clock, ad, staff06):
    case = sent(rt.engine, ad, staff06)
    clock.advance(timedelta(days=30, minutes=1))
    tick(rt.engine)
    stuck = _case(rt.engine, case.id)
    assert stuck.stuck_reason == "transfer_no_funds"
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case.id}"))
    assert "Action recommandée : Relancer La Banque Postale" in plain(page)
    url = f"/admin/dossiers/{case.id}/banque-postale/relance"
    fields = {"follow_up-version": stuck.version, "follow_up-csrf_token": csrf_token(page)}
    empty = client.post(url, data=fields)
    assert empty.status_code == 422
    assert "Dites comment La Banque Postale a été relancée" in text(empty)
    assert _case(rt.engine, case.id).stuck_reason == "transfer_no_funds"
    done = client.post(url, data={**fields, "follow_up-comment": "Appel au centre financier."})
    assert "30 jours de plus" in " ".join(_flash(text(client.get(done.headers["Location"]))))
    after = _case(rt.engine, case.id)
    assert (after.state, after.stuck_reason) == ("sent_to_bank", None)


def test_relaunch_and_closing_are_the_case_pages_own_forms(client, rt, clock, ad, staff06):
    late = case_of(rt.engine, banking_done(rt.engine, ad).coop_id, "banque_postale_transfer")
    clock.advance(timedelta(days=21, minutes=1))
    tick(rt.engine)
    assert _case(rt.engine, late.id).stuck_reason == "transfer_attestation_late"
    posted = sent(rt.engine, ad, staff06)
    payload = funds_payload(
        _case(rt.engine, posted.id),
        ad,
        received_cents=180000,
        received_on=date(2026, 9, 28),
        source="staff",
    )
    received = fire(rt.engine, posted.id, "funds_received", actor=Actor.staff(staff06), **payload)
    log_in(client, staff06)
    stuck = text(client.get(f"/admin/dossiers/{late.id}"))
    assert "Action recommandée : Relancer le mandataire" in plain(stuck)
    assert 'id="action-relaunch"' in stuck
    closing = text(client.get(f"/admin/dossiers/{received.id}"))
    assert 'id="action-close_account"' in closing
    assert 'id="action-check_amount"' not in closing  # within the tolerance
    url = f"/admin/dossiers/{received.id}/declencher/close_account"
    done = client.post(
        url,
        data={
            "close_account-csrf_token": csrf_token(closing),
            "close_account-version": received.version,
            "close_account-comment": "Clôture confirmée par La Banque Postale.",
        },
    )
    assert done.status_code == 302
    assert _case(rt.engine, received.id).state == "closed"


def test_another_ads_staff_get_404_and_read_only_accounts_403(
    client, rt, ad, ad50, staff06, readonly06
):
    case = sent(rt.engine, ad50, staff06)
    log_in(client, staff06)
    for path in ("banque-postale/fonds", "banque-postale/lettre"):
        assert client.get(f"/admin/dossiers/{case.id}/{path}").status_code == 404
    with rt.db.read() as session:
        letter_id = session.scalars(select(Document.id).where(Document.case_id == case.id)).one()
    assert (
        client.get(f"/admin/cooperatives/{case.coop_id}/documents/{letter_id}").status_code == 404
    )
    mine = sent(rt.engine, ad, staff06)
    reader = client.application.test_client()
    log_in(reader, readonly06)
    assert reader.get(f"/admin/dossiers/{mine.id}/banque-postale/fonds").status_code == 403
    page = text(reader.get(f"/admin/dossiers/{mine.id}"))
    refused = reader.post(
        f"/admin/dossiers/{mine.id}/banque-postale/fonds/enregistrer",
        data={
            "funds-csrf_token": csrf_token(page),
            "funds-version": mine.version,
            "funds-amount": "1800",
            "funds-received_on": "2026-09-07",
        },
    )
    assert refused.status_code == 403
    assert _case(rt.engine, mine.id).state == "sent_to_bank"
