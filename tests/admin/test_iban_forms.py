"""The iban's staff tasks through the back-office: « Vérifier le RIB déposé » (the file
beside the typed fields, approve, refuse with reasons, ask for a new RIB), « Traiter le
signalement », and « Relancer le mandataire » over the stuck list's filter. The cases
are brought where the forms act by the engine itself (no worker runs the steps)."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests import factories
from tests.admin.conftest import csrf_token, log_in, text
from tests.helpers import active_account, case_of
from workflows.engine import assignment, bulk
from workflows.engine.engine import Actor
from workflows.engine.scheduling import tick
from workflows.models import BankAccount, Case, CaseEvent, Document, Step
from workflows.processes.iban.rib_checks import RIB_TOO_OLD, mask_iban

IBAN = "FR7630006000011234567890189"
SHOWN_IBAN = "FR76 3000 6000 0112 3456 7890 189"
HOLDER = "OCCE Coopérative de l'école"
DOUBT = "Titulaire « OCCE Coopérative de l'école » non reconnu : l'AD attend …"
CHECKS = Actor.system("contrôles du RIB")
STALE = "Ce dossier vient d'être modifié par quelqu'un d'autre."


def png() -> bytes:
    """A real PNG (what a phone's scan of a RIB is)."""
    out = io.BytesIO()
    Image.new("RGB", (600, 300), (240, 240, 240)).save(out, format="PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _document(tx: Any, case: Case, content: bytes, content_type: str) -> Document:
    extension = "pdf" if content_type == "application/pdf" else "png"
    document = Document(
        idempotency_key=f"rib:{case.id}:{hashlib.sha256(content).hexdigest()[:8]}:{tx.now}",
        coop_id=case.coop_id,
        case_id=case.id,
        kind="rib",
        title="RIB déposé par le mandataire",
        filename=f"rib-{case.coop.affiliation_number}.{extension}",
        content_type=content_type,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )
    tx.session.add(document)
    tx.session.flush()
    return document


def submitted(
    engine: Any,
    case_id: int,
    mandataire: Any,
    *,
    content: bytes,
    content_type: str = "image/png",
    status: str = "needs_review",
) -> int:
    """A RIB handed in (file, typed fields, ``submit_rib``) and checked as ``status``
    says, as the portal and ``check_rib`` leave it: the RIB's id."""
    with engine.transaction() as tx:
        case = tx.lock(case_id)
        document = _document(tx, case, content, content_type)
        account = BankAccount(
            coop_id=case.coop_id,
            case_id=case.id,
            iban=IBAN,
            bic="AGRIFRPP",
            holder=HOLDER,
            rib_date=(tx.now - timedelta(days=30)).date(),
            document_id=document.id,
            submitted_at=tx.now,
            submitted_by=mandataire.full_name,
        )
        tx.session.add(account)
        tx.session.flush()
        tx.fire(
            case.id,
            "submit_rib",
            actor=Actor.mandataire(mandataire),
            payload={"bank_account_id": account.id, "iban": mask_iban(IBAN)},
        )
        case.data = {**case.data, "bank_account_id": account.id}
        account_id = account.id
    with engine.transaction() as tx:
        account = tx.session.get(BankAccount, account_id)
        account.status = status
        if status == "needs_review":
            account.review = {"reasons": [DOUBT]}
            tx.fire(case_id, "to_review", actor=CHECKS, payload={"review": DOUBT})
        else:
            tx.fire(case_id, "accept", actor=CHECKS, payload={"bank_account_id": account_id})
    return account_id


def rib_to_review(engine: Any, ad: Any, **kwargs: Any) -> tuple[int, int, Any]:
    """An iban case of a new coop of ``ad`` at ``needs_review``: case, RIB, mandataire."""
    mandataire = active_account(engine, ad)
    case_id = case_of(engine, mandataire.coop_id, "iban").id
    kwargs.setdefault("content", png())
    return case_id, submitted(engine, case_id, mandataire, **kwargs), mandataire


def mismatch_reported(engine: Any, ad: Any, message: str) -> tuple[int, int]:
    """An iban case whose certified account the mandataire says is not theirs."""
    mandataire = active_account(engine, ad)
    case_id = case_of(engine, mandataire.coop_id, "iban").id
    account_id = submitted(engine, case_id, mandataire, content=PDF, status="verified")
    with engine.transaction() as tx:
        account = tx.session.get(BankAccount, account_id)
        account.status, account.certified_at = "certified", tx.now
        tx.fire(case_id, "certified", actor=Actor.system("certification"))
    with engine.transaction() as tx:
        tx.fire(
            case_id,
            "report_mismatch",
            actor=Actor.mandataire(mandataire),
            payload={"message": message},
        )
    return case_id, account_id


def _case(rt: Any, case_id: int) -> Case:
    with rt.db.read() as session:
        return session.get(Case, case_id)


def _account(rt: Any, account_id: int) -> BankAccount:
    with rt.db.read() as session:
        return session.get(BankAccount, account_id)


def _events(rt: Any, case_id: int) -> list[CaseEvent]:
    with rt.db.read() as session:
        return list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        )


def _flash(page: str) -> list[str]:
    return [
        " ".join(m.split())
        for m in re.findall(
            r'<div class="alert alert-[a-z]+ alert-dismissable">.*?</button>(.*?)</div>', page, re.S
        )
    ]


def _post(client: Any, url: str, prefix: str, version: int, page: str, **fields: Any) -> Any:
    data: dict[str, Any] = {f"{prefix}-csrf_token": csrf_token(page), f"{prefix}-version": version}
    data.update({f"{prefix}-{name}": value for name, value in fields.items()})
    return client.post(url, data=data)


def _review(client: Any, case_id: int) -> str:
    response = client.get(f"/admin/dossiers/{case_id}/verifier-rib")
    assert response.status_code == 200, response.status_code
    return text(response)


# « Vérifier le RIB déposé » -----------------------------------------------------------


def test_the_review_shows_the_rib_image_beside_the_typed_fields(client, rt, ad, staff06):
    case_id, account_id, _ = rib_to_review(rt.engine, ad)
    log_in(client, staff06)
    page = _review(client, case_id)
    assert "Vérifier le RIB déposé" in page
    assert SHOWN_IBAN in page and "AGRIFRPP" in page and HOLDER in page
    with rt.db.read() as session:
        account = session.get(BankAccount, account_id)
        assert account.rib_date.strftime("%d/%m/%Y") in page
    assert DOUBT in page  # why the checks asked for a person
    assert "« OFFICE CENTRAL DE COOPERATION A L ECOLE »" in page
    [src] = re.findall(r'<img class="img-fluid border rib-file-image" src="([^"]+)"', page)
    assert src == f"/admin/dossiers/{case_id}/rib/{_account(rt, account_id).document_id}"
    served = client.get(src)
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert served.data == png()
    assert served.headers["Content-Disposition"].startswith("inline")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "private, no-store"
    # Every decision its own form, each with the version the page showed.
    version = _case(rt, case_id).version
    for prefix in ("approve", "refuse", "new_rib"):
        assert f'id="decision-{prefix}"' in page
        assert f'name="{prefix}-version" type="hidden" value="{version}"' in page


def test_a_pdf_rib_is_framed_by_the_review_page_only(client, rt, ad, staff06):
    case_id, _, _ = rib_to_review(rt.engine, ad, content=PDF, content_type="application/pdf")
    log_in(client, staff06)
    page = _review(client, case_id)
    [src] = re.findall(r'<iframe class="rib-file-frame" src="([^"]+)"', page)
    served = client.get(src)
    assert served.mimetype == "application/pdf" and served.data == PDF
    # Framed by this site's pages, and nothing else loads from it.
    assert served.headers["X-Frame-Options"] == "SAMEORIGIN"
    policy = served.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "default-src 'none'" in policy
    # Every other page is still never framed.
    assert client.get(f"/admin/dossiers/{case_id}").headers["X-Frame-Options"] == "DENY"


def test_approve_verifies_the_rib_for_certification(client, rt, ad, staff06):
    case_id, account_id, _ = rib_to_review(rt.engine, ad)
    log_in(client, staff06)
    page = _review(client, case_id)
    version = _case(rt, case_id).version
    url = f"/admin/dossiers/{case_id}/verifier-rib/approuver"
    refused = _post(client, url, "approve", version, page, comment=" ")
    assert refused.status_code == 422
    assert "Indiquez ce que vous avez vérifié" in text(refused)
    assert _case(rt, case_id).state == "needs_review"

    done = _post(client, url, "approve", version, page, comment="Titulaire conforme au RIB.")
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"/admin/dossiers/{case_id}")
    shown = text(client.get(done.headers["Location"]))
    assert "RIB approuvé : le compte va être certifié auprès de Swan." in _flash(shown)
    case = _case(rt, case_id)
    assert case.state == "verified"
    account = _account(rt, account_id)
    assert account.status == "verified"
    assert account.review["decision"] == "approved" and account.review["by"] == "Claire Agent"
    assert account.review["reasons"] == [DOUBT]
    last = _events(rt, case_id)[-1]
    assert last.trigger == "approve" and last.actor == f"staff:{staff06.id} Claire Agent"
    assert last.comment == "Titulaire conforme au RIB."
    assert last.payload == {"bank_account_id": account_id, "iban": mask_iban(IBAN)}
    with rt.db.read() as session:
        names = session.scalars(select(Step.name).where(Step.case_id == case_id)).all()
    assert "certify_account" in names


def test_refuse_with_reasons_the_mandataire_reads(client, rt, ad, staff06):
    case_id, account_id, _ = rib_to_review(rt.engine, ad)
    log_in(client, staff06)
    page = _review(client, case_id)
    for label in (
        "RIB illisible",
        "Titulaire différent de la coopérative",
        "RIB de plus de 12 mois",
        "IBAN différent du RIB joint",
        "Autre motif (à préciser)",
    ):
        assert label in page
    done = _post(
        client,
        f"/admin/dossiers/{case_id}/verifier-rib/refuser",
        "refuse",
        _case(rt, case_id).version,
        page,
        reasons=["illisible", "ancien", "autre"],
        other="  Le tampon de la banque   manque. ",
        comment="Merci de redemander le RIB à votre agence.",
    )
    assert done.status_code == 302, text(done)
    assert _case(rt, case_id).state == "rejected"
    account = _account(rt, account_id)
    errors = {
        "document": "Le RIB joint est illisible : joignez un scan net ou le PDF fourni par "
        "votre banque.",
        "rib_date": RIB_TOO_OLD,
        "other": "Le tampon de la banque manque.",
    }
    assert account.status == "rejected" and account.errors == errors
    assert account.review["decision"] == "refused"
    last = _events(rt, case_id)[-1]
    assert (last.trigger, last.actor) == ("refuse", f"staff:{staff06.id} Claire Agent")
    assert last.payload == {
        "bank_account_id": account_id,
        "errors": errors,
        "message": "Merci de redemander le RIB à votre agence.",
    }
    assert last.comment == (
        "Motifs : RIB illisible ; RIB de plus de 12 mois ; Le tampon de la banque manque. "
        "Message au mandataire : Merci de redemander le RIB à votre agence."
    )
    with rt.db.read() as session:
        names = session.scalars(select(Step.name).where(Step.case_id == case_id)).all()
    assert names[-1] == "notify_rejected"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, "Cochez au moins un motif de refus : le mandataire le lira."),
        ({"reasons": ["autre"], "other": "  "}, "Précisez l'autre motif : le mandataire le lira."),
        (
            {"reasons": ["illisible"], "other": "Tampon absent"},
            "Cochez « Autre motif » pour envoyer ce motif au mandataire, ou effacez-le.",
        ),
        ({"reasons": ["pas-un-motif"]}, "Cochez au moins un motif de refus"),
        ({"reasons": ["illisible"], "other": "x" * 501}, "Motif trop long (500 caractères"),
    ],
)
def test_a_refusal_without_a_readable_reason_changes_nothing(
    client, rt, ad, staff06, fields, error
):
    case_id, account_id, _ = rib_to_review(rt.engine, ad)
    log_in(client, staff06)
    page = _review(client, case_id)
    before = len(_events(rt, case_id))
    refused = _post(
        client,
        f"/admin/dossiers/{case_id}/verifier-rib/refuser",
        "refuse",
        _case(rt, case_id).version,
        page,
        **fields,
    )
    assert refused.status_code == 422
    assert error in text(refused)
    assert _case(rt, case_id).state == "needs_review"
    assert len(_events(rt, case_id)) == before
    assert _account(rt, account_id).status == "needs_review"
    assert _account(rt, account_id).errors == {}


def test_ask_for_a_new_rib_needs_a_comment(client, rt, ad, staff06):
    case_id, account_id, _ = rib_to_review(rt.engine, ad)
    log_in(client, staff06)
    page = _review(client, case_id)
    url = f"/admin/dossiers/{case_id}/verifier-rib/nouveau-rib"
    version = _case(rt, case_id).version
    refused = _post(client, url, "new_rib", version, page, comment="")
    assert refused.status_code == 422 and "Indiquez un commentaire" in text(refused)
    assert _case(rt, case_id).state == "needs_review"
    done = _post(client, url, "new_rib", version, page, comment="RIB d'un autre compte.")
    assert done.status_code == 302
    assert _case(rt, case_id).state == "awaiting_rib"
    assert _account(rt, account_id).status == "rejected"
    last = _events(rt, case_id)[-1]
    assert last.trigger == "ask_new_rib" and last.comment == "RIB d'un autre compte."


def test_a_page_left_open_while_the_case_changed_changes_nothing(client, rt, ad, staff06):
    case_id, account_id, _ = rib_to_review(rt.engine, ad)
    log_in(client, staff06)
    page = _review(client, case_id)
    version = _case(rt, case_id).version
    colleague = factories.StaffFactory(ad=ad, full_name="Marc Collègue")
    # A colleague takes the case meanwhile: still to review, at a newer version.
    with rt.engine.transaction() as tx:
        assignment.assign(tx, tx.lock(case_id), Actor.staff(colleague), colleague.id)
    before = len(_events(rt, case_id))
    refuse_url = f"/admin/dossiers/{case_id}/verifier-rib/refuser"
    late = _post(client, refuse_url, "refuse", version, page, reasons=["illisible"])
    assert late.status_code == 302
    shown = text(client.get(late.headers["Location"]))
    assert any(STALE in m for m in _flash(shown))
    assert _case(rt, case_id).state == "needs_review"
    assert _account(rt, account_id).status == "needs_review"
    assert len(_events(rt, case_id)) == before

    # Then decides it: the page and its forms are no longer offered.
    other = client.application.test_client()
    log_in(other, colleague)
    approve_url = f"/admin/dossiers/{case_id}/verifier-rib/approuver"
    fresh = _case(rt, case_id).version
    decided = _post(other, approve_url, "approve", fresh, _review(other, case_id), comment="Vu.")
    assert decided.status_code == 302
    late = _post(client, refuse_url, "refuse", fresh, page, reasons=["illisible"])
    assert late.status_code == 302
    gone = "Cette tâche n'est plus à faire sur ce dossier : voici son état actuel."
    assert gone in _flash(text(client.get(late.headers["Location"])))
    assert _account(rt, account_id).status == "verified"
    assert client.get(f"/admin/dossiers/{case_id}/verifier-rib").status_code == 302


def test_without_the_csrf_token_nothing_is_done(app, client, rt, ad, staff06):
    app.config["WTF_CSRF_ENABLED"] = True
    case_id, _, _ = rib_to_review(rt.engine, ad)
    log_in(client, staff06)
    response = client.post(
        f"/admin/dossiers/{case_id}/verifier-rib/approuver",
        data={"approve-version": _case(rt, case_id).version, "approve-comment": "Vu."},
    )
    assert response.status_code == 302
    assert "rien n'a été enregistré" in text(client.get(response.headers["Location"]))
    assert _case(rt, case_id).state == "needs_review"


def test_other_ads_staff_and_read_only_accounts_get_nothing(
    client, rt, ad, ad50, staff06, readonly06, national
):
    case_id, account_id, _ = rib_to_review(rt.engine, ad)
    document_id = _account(rt, account_id).document_id
    page_url = f"/admin/dossiers/{case_id}/verifier-rib"
    file_url = f"/admin/dossiers/{case_id}/rib/{document_id}"
    post_url = f"{page_url}/refuser"
    form = {"refuse-version": _case(rt, case_id).version, "refuse-reasons": "illisible"}
    log_in(client, factories.StaffFactory(ad=ad50, full_name="Agent Manche"))
    assert [client.get(page_url).status_code, client.get(file_url).status_code] == [404, 404]
    client.application.config["WTF_CSRF_ENABLED"] = False
    assert client.post(post_url, data=form).status_code == 404
    log_in(client, readonly06)
    assert [client.get(page_url).status_code, client.get(file_url).status_code] == [403, 403]
    assert client.post(post_url, data=form).status_code == 403
    assert _case(rt, case_id).state == "needs_review"
    # National staff see every AD's RIBs.
    log_in(client, national)
    assert client.get(page_url).status_code == 200
    assert client.get(file_url).status_code == 200


def test_the_file_route_serves_only_a_rib_of_that_case(client, rt, ad, staff06):
    case_id, _, _ = rib_to_review(rt.engine, ad)
    other_case, other_account, _ = rib_to_review(rt.engine, ad)
    other_document = _account(rt, other_account).document_id
    log_in(client, staff06)
    # Another case's RIB, through this case's address: not served.
    refused = client.get(f"/admin/dossiers/{case_id}/rib/{other_document}")
    assert refused.status_code == 302
    assert "Ce dossier n'a pas de RIB déposé sous ce numéro." in _flash(
        text(client.get(refused.headers["Location"]))
    )
    assert client.get(f"/admin/dossiers/{other_case}/rib/{other_document}").status_code == 200


# « Traiter le signalement » ------------------------------------------------------------

MESSAGE = "Ce n'est pas notre banque : nous sommes au Crédit Mutuel."


def test_the_mismatch_page_shows_the_message_and_the_certified_account(client, rt, ad, staff06):
    case_id, account_id = mismatch_reported(rt.engine, ad, MESSAGE)
    assert _case(rt, case_id).stuck_reason == "iban_mismatch"
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case_id}/signalement"))
    assert MESSAGE in page and SHOWN_IBAN in page and "AGRIFRPP" in page
    document_id = _account(rt, account_id).document_id
    assert f'href="/admin/dossiers/{case_id}/rib/{document_id}"' in page
    url = f"/admin/dossiers/{case_id}/signalement/compte-confirme"
    version = _case(rt, case_id).version
    refused = _post(client, url, "confirm", version, page, comment="")
    assert refused.status_code == 422 and "Indiquez ce que vous avez vérifié" in text(refused)
    assert _case(rt, case_id).state == "mismatch_reported"

    done = _post(
        client, url, "confirm", version, page, comment="IBAN comparé au RIB tamponné : identique."
    )
    assert done.status_code == 302
    case = _case(rt, case_id)
    assert case.state == "certified" and case.stuck_reason is None
    last = _events(rt, case_id)[-1]
    assert last.trigger == "confirm_account" and last.actor.startswith(f"staff:{staff06.id} ")
    assert last.comment == "IBAN comparé au RIB tamponné : identique."


def test_a_mismatch_may_ask_for_a_new_rib(client, rt, ad, staff06, readonly06):
    case_id, _ = mismatch_reported(rt.engine, ad, MESSAGE)
    log_in(client, readonly06)
    assert client.get(f"/admin/dossiers/{case_id}/signalement").status_code == 403
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case_id}/signalement"))
    done = _post(
        client,
        f"/admin/dossiers/{case_id}/signalement/nouveau-rib",
        "new_rib",
        _case(rt, case_id).version,
        page,
        comment="Le RIB certifié est celui de l'ancienne coopérative.",
    )
    assert done.status_code == 302
    case = _case(rt, case_id)
    assert case.state == "awaiting_rib" and case.stuck_reason is None
    assert _events(rt, case_id)[-1].trigger == "ask_new_rib"


# « Relancer le mandataire » over the stuck list's filter ---------------------------------


def test_relaunch_every_coop_without_a_rib_from_the_filter(client, rt, clock, ad, national):
    stuck = [case_of(rt.engine, active_account(rt.engine, ad).coop_id, "iban").id for _ in range(3)]
    clock.advance(timedelta(days=30, minutes=1))
    tick(rt.engine)
    assert {_case(rt, c).stuck_reason for c in stuck} == {"iban_no_rib"}
    before = _reminders(rt, stuck)
    clock.advance(timedelta(minutes=5))
    log_in(client, national)
    listed = client.get("/admin/?motif=iban_no_rib").get_data(as_text=True)
    assert '<option value="fire:relaunch">Relancer le mandataire</option>' in listed
    created = client.post(
        "/admin/actions-groupees/creer",
        data={
            "csrf_token": csrf_token(listed),
            "portee": "filtre",
            "motif": "iban_no_rib",
            "action": "fire:relaunch",
            "comment": "Relance avant les vacances",
            "retour": "/admin/?motif=iban_no_rib",
        },
    )
    assert created.status_code == 303, text(created)
    job_id = int(re.search(r"/actions-groupees/(\d+)", created.headers["Location"]).group(1))
    draft = text(client.get(f"/admin/actions-groupees/{job_id}"))
    assert "3 dossiers seront traités : Relancer le mandataire" in draft
    confirmed = client.post(
        f"/admin/actions-groupees/{job_id}/confirmer", data={"csrf_token": csrf_token(draft)}
    )
    assert confirmed.status_code in (302, 303)
    relaunched_from = rt.engine.clock.now()
    bulk.process(rt.engine, job_id)  # what a worker does with the confirmed job
    with rt.db.read() as session:
        for case_id in stuck:
            case = session.get(Case, case_id)
            assert (case.state, case.stuck_reason) == ("awaiting_rib", None)
            assert case.state_entered_at >= relaunched_from  # the state entered again
        relaunched = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id.in_(stuck), CaseEvent.trigger == "relaunch")
        ).all()
    assert len(relaunched) == 3 and {e.comment for e in relaunched} == {
        f"Relance avant les vacances (action groupée n° {job_id})"
    }
    assert all(e.actor == f"staff:{national.id} Nadia Nationale" for e in relaunched)
    # One reminder each, queued by the relaunch.
    assert _reminders(rt, stuck) == before + 3


def _reminders(rt: Any, case_ids: list[int]) -> int:
    with rt.db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Step)
                .where(Step.case_id.in_(case_ids), Step.name == "send_reminder")
            )
        )


def test_the_case_page_leads_to_its_tasks_and_never_fires_their_triggers_bare(
    client, rt, ad, staff06
):
    case_id, _, _ = rib_to_review(rt.engine, ad)
    reported, _ = mismatch_reported(rt.engine, ad, MESSAGE)
    log_in(client, staff06)
    page = text(client.get(f"/admin/dossiers/{case_id}"))
    assert f'href="/admin/dossiers/{case_id}/verifier-rib">Vérifier le RIB déposé' in page
    for trigger in ("approve", "refuse", "ask_new_rib"):
        assert f'id="action-{trigger}"' not in page
    # Posted anyway (a page of before): refused, nothing done.
    bare = client.post(
        f"/admin/dossiers/{case_id}/declencher/refuse",
        data={
            "refuse-csrf_token": csrf_token(page),
            "refuse-version": _case(rt, case_id).version,
            "refuse-comment": "Refus sans motif",
        },
    )
    assert bare.status_code == 302 and _case(rt, case_id).state == "needs_review"
    # A stuck case: its banner leads to the task's page.
    banner = re.search(
        r'id="recommandee".*?</div>\s*</div>',
        client.get(f"/admin/dossiers/{reported}").get_data(as_text=True),
        re.S,
    )
    assert banner and f'href="/admin/dossiers/{reported}/signalement"' in banner.group(0)
