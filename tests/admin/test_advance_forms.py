"""The emergency advance in the back-office: « Examiner la demande d'avance » (the request
and its quote; « Accorder », « Refuser » with the reason the mandataire reads, by the
AD's president or treasurer only), « Faire le virement de l'avance », « Enregistrer le
remboursement » (also the overdue case's recommended action). The cases are brought
where the forms act by the engine (tests/transfer_helpers.py)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tests import factories
from tests.admin.conftest import csrf_token, log_in
from tests.admin.conftest import text as _page_text
from tests.admin.test_iban_forms import PDF, STALE, _flash
from tests.transfer_helpers import advance_at, eligible, fire, requested
from workflows.engine.engine import Actor
from workflows.engine.errors import GuardFailed
from workflows.engine.scheduling import tick
from workflows.models import Case, CaseEvent, Coop, Document

OFFICERS_ONLY = "Seuls le président et le trésorier de l'AD examinent les demandes d'avance."
_TAG = re.compile(r"<[^>]+>")


def text(response: Any) -> str:
    """The page as read, French amounts' narrow spaces as plain ones (« 800,00 € »)."""
    return _page_text(response).replace("\u202f", " ")


def plain(page: str) -> str:
    return " ".join(_TAG.sub(" ", page).split())


@pytest.fixture
def treasurer(ad: Any) -> Any:
    return factories.StaffFactory(
        ad=ad, full_name="Denis Olivier", email="denis@occe.coop", officer_role="treasurer"
    )


@pytest.fixture
def president(ad: Any) -> Any:
    return factories.StaffFactory(
        ad=ad, full_name="Robert Président", email="robert@occe.coop", officer_role="president"
    )


def under_review(engine: Any, ad: Any) -> Case:
    """An advance asked with its quote (a PDF kept as the portal keeps it), handed to
    the AD's officers."""
    mandataire = eligible(engine, ad)
    with engine.transaction() as tx:
        quote = Document(
            idempotency_key=f"advance_quote:{mandataire.coop_id}",
            coop_id=mandataire.coop_id,
            kind="advance_quote",
            title="Devis ou facture de l'avance",
            filename="devis-pep06.pdf",
            content=PDF,
            sha256=hashlib.sha256(PDF).hexdigest(),
            size=len(PDF),
        )
        tx.session.add(quote)
        tx.session.flush()
        quote_id = quote.id
    case = requested(engine, mandataire, {"quote_document_id": quote_id})
    with engine.transaction() as tx:
        tx.session.get(Document, quote_id).case_id = case.id
    fire(engine, case.id, "to_review")
    return _case(engine, case.id)


def _case(engine: Any, case_id: int) -> Case:
    with engine.db.read() as session:
        found = session.get(Case, case_id, options=[joinedload(Case.coop).joinedload(Coop.ad)])
        assert found is not None
        return found


def _events(engine: Any, case_id: int, trigger: str | None = None) -> list[CaseEvent]:
    with engine.db.read() as session:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        events = list(session.scalars(query))
    return [e for e in events if trigger is None or e.trigger == trigger]


def _post(client: Any, url: str, prefix: str, page: str, version: int, **fields: Any) -> Any:
    data: dict[str, Any] = {f"{prefix}-csrf_token": csrf_token(page), f"{prefix}-version": version}
    data.update({f"{prefix}-{name}": value for name, value in fields.items()})
    return client.post(url, data=data)


def _shown(client: Any, response: Any) -> str:
    assert response.status_code == 302, response.status_code
    return " ".join(_flash(text(client.get(response.headers["Location"]))))


REVIEW = "/admin/dossiers/{}/avance/examen"


# « Examiner la demande d'avance » ------------------------------------------------------


def test_the_review_shows_the_request_and_its_quote(client, rt, ad, treasurer):
    case = under_review(rt.engine, ad)
    log_in(client, treasurer)
    page = text(client.get(REVIEW.format(case.id)))
    words = plain(page)
    assert "Classe de découverte à Saint-Martin-Vésubie (le 15/03/2027)" in words
    assert "Acompte du séjour (hébergement et transport)" in words and "PEP 06 Séjours" in words
    assert "FR76 1010 7001 0112 3456 7890 129" in page  # the supplier's IBAN, whole
    assert "Montant demandé 800,00 €" in words
    assert "Solde Banque Postale déclaré 1 800,00 €" in words
    assert "Plafond de l'AD 3 000,00 € ; remboursement sous 90 jours" in words
    assert 'id="decision-approve"' in page and 'id="decision-reject"' in page
    [url] = re.findall(r'<a class="advance-quote" href="([^"]+)"', page)
    quote = client.get(url)
    assert quote.status_code == 200 and quote.data == PDF
    assert quote.mimetype == "application/pdf"
    assert quote.headers["Content-Disposition"].startswith("inline")
    # Only the request's quote: another document of the coop is not served here.
    other = int(url.rsplit("/", 1)[1]) + 1000
    refused = client.get(f"/admin/dossiers/{case.id}/avance/devis/{other}")
    assert "pas de devis ou de facture sous ce numéro" in _shown(client, refused)
    # The case page leads to it and never fires its triggers bare; the quote is listed.
    case_page = text(client.get(f"/admin/dossiers/{case.id}"))
    assert f'href="{REVIEW.format(case.id)}">Examiner la demande' in case_page
    assert 'id="action-approve"' not in case_page and 'id="action-reject"' not in case_page
    assert "devis-pep06.pdf" in case_page


def test_an_officer_approves(client, rt, ad, treasurer):
    case = under_review(rt.engine, ad)
    log_in(client, treasurer)
    page = text(client.get(REVIEW.format(case.id)))
    response = _post(
        client,
        f"{REVIEW.format(case.id)}/accorder",
        "approve",
        page,
        case.version,
        message="Accordée : le séjour est autorisé.",
    )
    assert "Avance accordée" in _shown(client, response)
    after = _case(rt.engine, case.id)
    assert after.state == "approved"
    review = after.data["review"]
    assert review["decision"] == "approved" and review["by"] == "Denis Olivier"
    assert review["officer_role"] == "treasurer" and review["reason"].startswith("Accordée")
    assert review["at"].startswith("2026-09-07T")
    [event] = _events(rt.engine, case.id, "approve")
    assert event.actor == f"staff:{treasurer.id} Denis Olivier"


def test_an_officer_refuses_with_the_reason_the_mandataire_reads(client, rt, ad, president):
    case = under_review(rt.engine, ad)
    log_in(client, president)
    page = text(client.get(REVIEW.format(case.id)))
    url = f"{REVIEW.format(case.id)}/refuser"
    empty = _post(client, url, "reject", page, case.version, reason="   ")
    assert empty.status_code == 422
    assert "Indiquez le motif du refus : le mandataire le lira." in text(empty)
    long = _post(client, url, "reject", page, case.version, reason="x" * 2001)
    assert "Motif trop long (2000 caractères au plus)." in text(long)
    unchanged = _case(rt.engine, case.id)
    assert unchanged.state == "under_review" and "review" not in unchanged.data
    reason = "Ce voyage n'est pas encore autorisé par l'inspection."
    done = _post(client, url, "reject", page, case.version, reason=reason)
    assert "le mandataire reçoit le motif" in _shown(client, done)
    after = _case(rt.engine, case.id)
    assert after.state == "rejected"
    assert after.data["review"]["reason"] == reason
    assert after.data["review"]["officer_role"] == "president"
    [event] = _events(rt.engine, case.id, "reject")
    assert event.payload == {"reason": reason}


def test_only_the_ads_president_or_treasurer_decides(
    client, rt, ad, ad50, staff06, national, treasurer
):
    case = under_review(rt.engine, ad)
    for person in (staff06, national):
        other = client.application.test_client()
        log_in(other, person)
        page = text(other.get(REVIEW.format(case.id)))
        assert OFFICERS_ONLY in page
        assert 'id="decision-approve"' not in page and 'id="decision-reject"' not in page
        # A decision posted anyway (a forged form): refused, nothing recorded.
        refused = _post(other, f"{REVIEW.format(case.id)}/accorder", "approve", page, case.version)
        assert OFFICERS_ONLY in _shown(other, refused)
    after = _case(rt.engine, case.id)
    assert after.state == "under_review" and "review" not in after.data
    assert _events(rt.engine, case.id, "approve") == []
    # Another AD's treasurer does not see the case at all.
    theirs = factories.StaffFactory(
        ad=ad50, email="tresorier50@occe.coop", officer_role="treasurer"
    )
    stranger = client.application.test_client()
    log_in(stranger, theirs)
    assert stranger.get(REVIEW.format(case.id)).status_code == 404
    assert stranger.get(f"/admin/dossiers/{case.id}").status_code == 404


def test_a_read_only_officer_acts_on_nothing(client, rt, ad):
    case = under_review(rt.engine, ad)
    reader = factories.StaffFactory(ad=ad, role="readonly", officer_role="president")
    log_in(client, reader)
    assert client.get(REVIEW.format(case.id)).status_code == 403
    page = text(client.get(f"/admin/dossiers/{case.id}"))
    refused = _post(client, f"{REVIEW.format(case.id)}/accorder", "approve", page, case.version)
    assert refused.status_code == 403
    assert _case(rt.engine, case.id).state == "under_review"


def test_two_officers_at_once_one_decides(client, rt, ad, treasurer, president, staff06):
    case = under_review(rt.engine, ad)
    log_in(client, treasurer)
    page = text(client.get(REVIEW.format(case.id)))
    # Someone assigns the case meanwhile: the page's version is stale.
    with rt.engine.transaction() as tx:
        tx.lock(case.id).assignee_id = staff06.id
        tx.lock(case.id).version += 1
    stale = _post(client, f"{REVIEW.format(case.id)}/accorder", "approve", page, case.version)
    assert STALE in _shown(client, stale)
    assert _case(rt.engine, case.id).state == "under_review"
    # The president refuses; the treasurer's page, left open, decides nothing.
    other = client.application.test_client()
    log_in(other, president)
    fresh = _case(rt.engine, case.id)
    their_page = text(other.get(REVIEW.format(fresh.id)))
    done = _post(
        other,
        f"{REVIEW.format(case.id)}/refuser",
        "reject",
        their_page,
        fresh.version,
        reason="Pas un séjour.",
    )
    assert done.status_code == 302
    late = _post(client, f"{REVIEW.format(case.id)}/accorder", "approve", page, fresh.version)
    assert "Cette tâche n'est plus à faire sur ce dossier" in _shown(client, late)
    after = _case(rt.engine, case.id)
    assert after.state == "rejected" and after.data["review"]["by"] == "Robert Président"


# The disbursement, the repayment -------------------------------------------------------


DISBURSEMENT = "/admin/dossiers/{}/avance/virement"


def test_an_agent_records_the_disbursement(client, rt, ad, staff06):
    case = advance_at(rt.engine, ad, "signed")
    log_in(client, staff06)
    page = text(client.get(DISBURSEMENT.format(case.id)))
    words = plain(page)
    assert "Montant 800,00 €" in words
    assert "FR76 3000 6000 0112 3456 7890 189" in page  # the coop's certified account
    assert 'value="2026-09-07"' in page  # today proposed
    url = f"{DISBURSEMENT.format(case.id)}/enregistrer"
    done = _post(
        client,
        url,
        "disburse",
        page,
        case.version,
        disbursed_on="07/09/2026",
        reference="  VIR   AV-2026-0042 ",
    )
    assert "Virement de l'avance enregistré (le 07/09/2026, référence VIR AV-2026-0042)." in (
        _shown(client, done)
    )
    after = _case(rt.engine, case.id)
    assert after.state == "disbursed"
    assert after.data["disbursement"] == {
        "disbursed_on": "2026-09-07",
        "reference": "VIR AV-2026-0042",
        "by": "Claire Agent",
    }
    [event] = _events(rt.engine, case.id, "disburse")
    assert event.payload == {"disbursed_on": "2026-09-07", "reference": "VIR AV-2026-0042"}
    assert event.comment == "Avance versée le 07/09/2026, référence VIR AV-2026-0042."


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"disbursed_on": ""}, "disbursed_on", "Indiquez la date du virement (jj/mm/aaaa)."),
        (
            {"disbursed_on": "2026-09-08"},
            "disbursed_on",
            "La date du virement ne peut pas être dans le futur.",
        ),
        (
            {"disbursed_on": "lundi"},
            "disbursed_on",
            "Date invalide : utilisez le format jj/mm/aaaa.",
        ),
        ({"reference": " "}, "reference", "Indiquez la référence du virement (celle du relevé)."),
        ({"reference": "R" * 141}, "reference", "Référence trop longue (140 caractères au plus)."),
    ],
)
def test_a_bad_disbursement_is_refused_in_french_and_changes_nothing(
    client, rt, ad, staff06, fields, field, error
):
    case = advance_at(rt.engine, ad, "signed")
    log_in(client, staff06)
    page = text(client.get(DISBURSEMENT.format(case.id)))
    typed = {"disbursed_on": "2026-09-07", "reference": "AV-1", **fields}
    response = _post(
        client,
        f"{DISBURSEMENT.format(case.id)}/enregistrer",
        "disburse",
        page,
        case.version,
        **typed,
    )
    assert response.status_code == 422
    shown = text(response)
    assert f'id="disburse-{field}"' in shown and error in shown
    after = _case(rt.engine, case.id)
    assert after.state == "signed" and "disbursement" not in after.data


def test_the_disbursement_by_another_ad_or_a_read_only_account(
    client, rt, ad, ad50, staff06, readonly06
):
    theirs = advance_at(rt.engine, ad50, "signed")
    log_in(client, staff06)
    assert client.get(DISBURSEMENT.format(theirs.id)).status_code == 404
    page = text(client.get("/admin/dossiers/"))
    forged = _post(
        client,
        f"{DISBURSEMENT.format(theirs.id)}/enregistrer",
        "disburse",
        page,
        theirs.version,
        disbursed_on="2026-09-07",
        reference="AV-1",
    )
    assert forged.status_code == 404
    mine = advance_at(rt.engine, ad, "signed")
    reader = client.application.test_client()
    log_in(reader, readonly06)
    assert reader.get(DISBURSEMENT.format(mine.id)).status_code == 403
    assert {_case(rt.engine, c.id).state for c in (theirs, mine)} == {"signed"}


REPAYMENT = "/admin/dossiers/{}/avance/remboursement"


def _disbursed(client: Any, rt: Any, ad: Any, day: str) -> Case:
    """An advance whose transfer staff recorded on its page, on ``day``."""
    case = advance_at(rt.engine, ad, "signed")
    page = text(client.get(DISBURSEMENT.format(case.id)))
    url = f"{DISBURSEMENT.format(case.id)}/enregistrer"
    done = _post(client, url, "disburse", page, case.version, disbursed_on=day, reference="AV-7")
    assert done.status_code == 302
    return _case(rt.engine, case.id)


def test_a_repayment_recorded_by_staff(client, rt, clock, ad, staff06):
    log_in(client, staff06)
    case = _disbursed(client, rt, ad, "2026-09-07")
    clock.advance(timedelta(days=5))  # 12/09/2026
    case_page = text(client.get(f"/admin/dossiers/{case.id}"))
    assert f'href="{REPAYMENT.format(case.id)}">Enregistrer le remboursement' in case_page
    assert 'id="action-repay"' not in case_page and 'id="action-record_repayment"' not in case_page
    page = text(client.get(REPAYMENT.format(case.id)))
    assert "Versée le 07/09/2026, référence AV-7" in plain(page)
    url = f"{REPAYMENT.format(case.id)}/enregistrer"
    early = _post(
        client, url, "repayment", page, case.version, repaid_on="2026-09-06", reference="REMB-1"
    )
    assert early.status_code == 422
    assert "Le remboursement ne peut pas précéder le versement de l'avance (le 07/09/2026)." in (
        text(early)
    )
    missing = _post(client, url, "repayment", page, case.version, repaid_on="2026-09-10")
    assert "Indiquez la référence du remboursement" in text(missing)
    future = _post(
        client, url, "repayment", page, case.version, repaid_on="2026-09-13", reference="R"
    )
    assert "La date du remboursement ne peut pas être dans le futur." in text(future)
    assert _case(rt.engine, case.id).state == "disbursed"
    done = _post(
        client, url, "repayment", page, case.version, repaid_on="2026-09-10", reference="REMB-1"
    )
    assert "Remboursement enregistré" in _shown(client, done)
    after = _case(rt.engine, case.id)
    assert after.state == "repaid"
    assert after.data["repayment"] == {
        "repaid_on": "2026-09-10",
        "reference": "REMB-1",
        "source": "staff",
        "by": "Claire Agent",
    }
    [event] = _events(rt.engine, case.id, "record_repayment")
    assert event.payload == {"repaid_on": "2026-09-10", "reference": "REMB-1"}


def test_an_overdue_advance_recommends_its_repayment(client, rt, clock, ad, staff06):
    case = advance_at(rt.engine, ad, "disbursed")
    clock.advance(timedelta(days=90, minutes=1))
    tick(rt.engine)
    stuck = _case(rt.engine, case.id)
    assert (stuck.state, stuck.stuck_reason) == ("overdue", "advance_overdue")
    log_in(client, staff06)
    case_page = text(client.get(f"/admin/dossiers/{case.id}"))
    assert "Action recommandée : Enregistrer le remboursement" in plain(case_page)
    assert f'<a class="btn btn-danger" href="{REPAYMENT.format(case.id)}">' in case_page
    page = text(client.get(REPAYMENT.format(case.id)))
    done = _post(
        client,
        f"{REPAYMENT.format(case.id)}/enregistrer",
        "repayment",
        page,
        stuck.version,
        repaid_on="2026-12-01",
        reference="Virement de la coopérative",
    )
    assert done.status_code == 302
    after = _case(rt.engine, case.id)
    assert (after.state, after.stuck_reason) == ("repaid", None)


def test_the_advances_documents_from_its_case_page(client, rt, ad, ad50, staff06):
    case = under_review(rt.engine, ad)
    with rt.db.read() as session:
        quote_id = session.scalars(select(Document.id).where(Document.case_id == case.id)).one()
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case.id}"))
    link = f"/admin/cooperatives/{case.coop_id}/documents/{quote_id}"
    assert link in page
    download = client.get(link)
    assert download.status_code == 200 and download.data == PDF
    stranger = client.application.test_client()
    log_in(stranger, factories.StaffFactory(ad=ad50, email="agent50@occe.coop"))
    assert stranger.get(link).status_code == 404
    assert stranger.get(f"/admin/dossiers/{case.id}/avance/devis/{quote_id}").status_code == 404


def test_the_engines_guard_refuses_a_non_officer_too(rt, ad, staff06):
    """Defence in depth: the definition's guard ``officer``, whoever calls the engine."""
    case = under_review(rt.engine, ad)
    with pytest.raises(GuardFailed), rt.engine.transaction() as tx:
        tx.fire(case.id, "approve", actor=Actor.staff(staff06))
    assert _case(rt.engine, case.id).state == "under_review"
