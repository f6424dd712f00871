"""The mandataire's portal: the checklist at each stage, « Vérification de l'espace »
(confirm, report a problem, the details they may complete) and « Documents », through
the real worker (the summary PDF) and the back-office's view of a reported problem."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from io import BytesIO

import pytest
from sqlalchemy import select

from tests import factories
from tests.helpers import csrf_token
from tests.web.conftest import (
    JPEG,
    PNG,
    PROBLEM,
    case_row,
    checklist_line,
    form_value,
    log_in_mandataire,
    log_in_staff,
    settle,
    text,
)
from workflows.engine.engine import Actor
from workflows.engine.scheduling import tick
from workflows.models import BankAccount, Case, CaseEvent, Coop, Document, Mandataire, Task
from workflows.processes.space_check.coop_details import LOGO_MAX_BYTES

SPACE = "/mon-espace/verification"
CONFLICT = "Ce dossier vient d'être modifié par quelqu'un d'autre"


def _space_page(client) -> str:
    page = client.get(SPACE)
    assert page.status_code == 200
    return text(page)


def _answer(client, action: str, **fields):
    """Post one of the page's forms with the version (and fingerprint) it shows now."""
    return _answer_from(client, _space_page(client), action, **fields)


def _answer_from(client, page: str, action: str, **fields):
    """Post one of the forms of ``page`` (shown earlier) with the version (and
    fingerprint) it showed."""
    data = {
        "csrf_token": csrf_token(page),
        "version": form_value(page, "version"),
        "fingerprint": form_value(page, "fingerprint"),
        **fields,
    }
    return client.post(f"{SPACE}/{action}", data=data)


def _events(runtime, case_id: int, kind: str = "comment") -> list[str]:
    with runtime.db.read() as s:
        return list(
            s.scalars(
                select(CaseEvent.comment)
                .where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
                .order_by(CaseEvent.id)
            )
        )


def _coop(runtime, coop_id: int) -> Coop:
    with runtime.db.read() as s:
        coop = s.get(Coop, coop_id)
        assert coop is not None
        return coop


# The checklist ----------------------------------------------------------------------


def test_the_checklist_follows_the_coop_through_its_stages(runtime, app, client, make_coop):
    invited = make_coop("invited")
    log_in_mandataire(app, client, invited.mandataire_id)
    page = text(client.get("/mon-espace"))
    assert invited.name in page and f"Coopérative n° {invited.affiliation_number}" in page
    assert page.index('data-process="invitation"') < page.index('data-process="space_check"')
    assert "Invitation envoyée, en attente du mot de passe" in checklist_line(page, "invitation")
    space = checklist_line(page, "space_check")
    assert "Vérification de l'espace" in space
    assert "Disponible dès votre première connexion." in space
    assert "Vérifier mon espace" not in page

    active = make_coop("active")
    log_in_mandataire(app, client, active.mandataire_id)
    page = text(client.get("/mon-espace"))
    assert "Compte actif" in checklist_line(page, "invitation")
    assert "Terminé" in checklist_line(page, "invitation")
    space = checklist_line(page, "space_check")
    assert "À vérifier par vous" in space and "Terminé" not in space  # to the mandataire
    assert re.search(
        r'<a class="button" href="/mon-espace/verification">Vérifier mon espace</a>', page
    )
    assert "Prochaine étape : Vérification de l'espace." in re.sub(r"<[^>]+>", "", page)

    reported = make_coop("problem_reported")
    log_in_mandataire(app, client, reported.mandataire_id)
    page = text(client.get("/mon-espace"))
    space = checklist_line(page, "space_check")
    assert "Problème signalé, en cours de traitement" in space
    assert "L'équipe de votre association départementale (OCCE 06) s'en occupe" in space
    assert f"Votre message : « {PROBLEM} »" in space
    assert "Vérifier mon espace" not in page
    # The bank side started with the account: the next thing to do is theirs.
    flat = re.sub(r"<[^>]+>", "", page)
    assert "Prochaine étape : Vérification d'identité." in flat
    assert page.index('data-process="space_check"') < page.index('data-process="kyc"')
    assert page.index('data-process="kyc"') < page.index('data-process="iban"')
    assert "Vérifier mon identité" in checklist_line(page, "kyc")
    assert "Déposer le RIB" in checklist_line(page, "iban")

    confirmed = make_coop("confirmed")
    log_in_mandataire(app, client, confirmed.mandataire_id)
    page = text(client.get("/mon-espace"))
    space = checklist_line(page, "space_check")
    assert "Espace vérifié" in space and "Terminé" in space
    assert "Vérifier mon espace" not in page
    assert "Toutes vos démarches sont terminées." not in page  # identity and RIB to come


def test_the_checklist_moves_with_the_case(runtime, app, client, make_coop):
    """Each load reads the cases: staff asking again brings the button back."""
    coop = make_coop("problem_reported")
    log_in_mandataire(app, client, coop.mandataire_id)
    assert "Vérifier mon espace" not in text(client.get("/mon-espace"))
    with runtime.engine.transaction() as tx:
        tx.fire(coop.space_id, "ask_again", actor=Actor("staff", 1, "Claire Agent"))
    settle(runtime)
    page = text(client.get("/mon-espace"))
    assert "Vérifier mon espace" in page and "Votre message" not in page


# « Tout est correct » ---------------------------------------------------------------


def test_confirming_keeps_a_pdf_in_the_documents(runtime, app, client, make_coop):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    page = _space_page(client)
    for shown in (coop.name, coop.affiliation_number, "12 rue de la République", coop.email):
        assert shown in page
    assert "Rôle : mandataire" in page
    assert (
        "Aucun compte bancaire n'est encore enregistré : vous le certifierez à l'étape "
        "Compte bancaire" in page
    )

    done = _answer(client, "confirmer")
    assert done.status_code == 302 and done.headers["Location"] == "/mon-espace"
    home = text(client.get("/mon-espace"))
    assert "vous avez confirmé que votre espace est correct" in home
    assert "Espace vérifié" in checklist_line(home, "space_check")
    assert case_row(runtime, coop.space_id).state == "confirmed"

    settle(runtime)
    with runtime.db.read() as s:
        document = s.scalars(select(Document).where(Document.coop_id == coop.coop_id)).one()
    assert document.kind == "space_summary" and document.case_id == coop.space_id

    listing = text(client.get("/mon-espace/documents"))
    assert "Vérification de l'espace" in listing
    assert "07/09/2026" in listing  # the test clock's day, in Paris
    assert f'href="/mon-espace/documents/{document.id}"' in listing
    pdf = client.get(f"/mon-espace/documents/{document.id}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == (
        f"attachment; filename=verification-espace-{coop.affiliation_number}.pdf"
    )
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    assert pdf.headers["Cache-Control"] == "private, no-store"

    after = _space_page(client)
    assert "Vous avez confirmé le 07/09/2026" in after
    assert "Tout est correct</button>" not in after and "Signaler un problème</button>" not in after
    assert "Le récapitulatif (PDF) est dans" in after


def test_a_stale_page_cannot_confirm(runtime, app, client, make_coop):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    page = _space_page(client)
    with runtime.engine.transaction() as tx:  # the weekly reminder, meanwhile
        tx.fire(coop.space_id, "remind", actor=Actor.system("minuteur"))
    before = case_row(runtime, coop.space_id).version
    stale = _answer_from(client, page, "confirmer")
    assert stale.status_code == 409
    assert CONFLICT in text(stale) and "Rechargez la page" in text(stale)
    case = case_row(runtime, coop.space_id)
    assert (case.state, case.version) == ("to_check", before)

    missing = client.post(f"{SPACE}/confirmer", data={"csrf_token": csrf_token(page)})
    assert missing.status_code == 409 and "rechargez la page" in text(missing)
    assert case_row(runtime, coop.space_id).state == "to_check"


def test_confirming_what_changed_since_the_page_was_shown_is_refused(
    runtime, app, client, make_coop
):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    page = _space_page(client)
    # Another tab changes the phone: the case's version stays, what it shows does not.
    _details(
        client,
        page=page,
        street="12 rue de la République",
        postal_code="06000",
        city="Nice",
        phone="04 93 00 00 00",
    )
    old = _answer_from(client, page, "confirmer")
    assert old.status_code == 409
    assert "ont changé depuis l'affichage de cette page" in text(old)
    assert "04 93 00 00 00" in text(old)  # the page shows what changed
    assert case_row(runtime, coop.space_id).state == "to_check"
    assert _answer(client, "confirmer").status_code == 302


def test_the_certified_account_is_shown_masked_and_is_part_of_what_is_confirmed(
    runtime, app, client, make_coop
):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    page = _space_page(client)
    assert "Aucun compte bancaire n'est encore enregistré" in page
    with runtime.engine.transaction() as tx:  # certified meanwhile, in another tab
        case_id = tx.session.scalar(
            select(Case.id).where(Case.coop_id == coop.coop_id, Case.process == "iban")
        )
        tx.session.add(
            BankAccount(
                coop_id=coop.coop_id,
                case_id=case_id,
                iban="FR7630006000011234567890189",
                bic="AGRIFRPP",
                holder="OCCE 06 COOP",
                rib_date=date(2026, 9, 1),
                submitted_by="Éloïse Martin",
                status="certified",
                certified_at=tx.now,
            )
        )
    assert _answer_from(client, page, "confirmer").status_code == 409
    shown = _space_page(client)
    assert "Compte certifié : FR76 **** **** **** **** ***0 189 · AGRIFRPP · OCCE 06 COOP." in shown
    assert "30006000011234567890" not in shown
    assert _answer(client, "confirmer").status_code == 302


# « Signaler un problème » -----------------------------------------------------------


def test_a_reported_problem_becomes_a_task_for_the_ads_team(
    runtime, app, client, clock, make_coop, ad
):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    sent = _answer(client, "signaler", message=f"  {PROBLEM}  ")
    assert sent.status_code == 302 and sent.headers["Location"] == "/mon-espace#contenu"
    home = text(client.get("/mon-espace"))
    assert "Votre signalement est envoyé" in home
    assert "s'en occupe" in checklist_line(home, "space_check")

    with runtime.db.read() as s:
        task = s.scalars(select(Task).where(Task.case_id == coop.space_id)).one()
    assert (task.note, task.status, task.ad_id) == (PROBLEM, "open", ad.id)
    assert timedelta(days=3, minutes=-1) < task.due_at - clock.now() <= timedelta(days=3)

    page = _space_page(client)
    assert "Vous avez signalé un problème le 07/09/2026" in page
    assert f"Votre message : « {PROBLEM} »" in page
    assert "Tout est correct</button>" not in page

    # The back-office: the task with the message now, the stuck list after its due date.
    agent = factories.StaffFactory(ad=ad)
    staff = app.test_client()
    log_in_staff(staff, agent.id)
    tasks = text(staff.get("/admin/taches/"))
    assert PROBLEM in tasks and coop.name in tasks
    marker = f'data-case-id="{coop.space_id}"'
    assert marker not in text(staff.get("/admin/"))
    clock.advance(timedelta(days=3, minutes=1))
    tick(runtime.engine)
    assert case_row(runtime, coop.space_id).stuck_reason == "task_overdue"
    assert marker in text(staff.get("/admin/"))
    # Still on it, for the mandataire.
    assert "s'en occupe" in checklist_line(text(client.get("/mon-espace")), "space_check")


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("   ", "Décrivez le problème constaté : votre message est vide."),
        ("x" * 2001, "Votre message est trop long (2000 caractères au plus)."),
    ],
)
def test_a_problem_needs_a_message(runtime, app, client, make_coop, message, error):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    before = case_row(runtime, coop.space_id).version
    refused = _answer(client, "signaler", message=message)
    assert refused.status_code == 422
    page = text(refused)
    assert f'<p class="error" id="message-error">{error}</p>' in page
    assert re.search(
        r'<textarea id="message"[^>]*aria-describedby="message-hint message-error"', page
    )
    assert re.search(r'<textarea id="message"[^>]*aria-invalid="true"', page)
    case = case_row(runtime, coop.space_id)
    assert (case.state, case.version) == ("to_check", before)
    with runtime.db.read() as s:
        assert s.scalars(select(Task).where(Task.case_id == coop.space_id)).all() == []


# The details the mandataire completes --------------------------------------------------


def _details(client, files=None, *, page: str | None = None, **fields):
    """Post the details form of ``page`` (by default, the page as it is now)."""
    page = page or _space_page(client)
    data = {
        "csrf_token": csrf_token(page),
        "street": "3 rue Pastorelli",
        "postal_code": "06 000",
        "city": "Nice",
        "phone": "+33 (0)4 93.12.34.56",
        **fields,
        **(files or {}),
    }
    return client.post(f"{SPACE}/coordonnees", data=data, content_type="multipart/form-data")


def test_the_mandataire_completes_address_phone_and_logo(runtime, app, client, make_coop):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    saved = _details(client, files={"logo": (BytesIO(PNG), "ecole.png", "image/png")})
    assert saved.status_code == 302
    assert saved.headers["Location"] == "/mon-espace/verification#coordonnees"
    row = _coop(runtime, coop.coop_id)
    assert (row.street, row.postal_code, row.city, row.phone) == (
        "3 rue Pastorelli",
        "06000",
        "Nice",
        "04 93 12 34 56",
    )
    assert _events(runtime, coop.space_id) == [
        "Adresse modifiée : « 12 rue de la République, 06000 Nice » → "
        "« 3 rue Pastorelli, 06000 Nice ».",
        "Téléphone modifié : « vide » → « 04 93 12 34 56 ».",
        f"Logo ajouté : image PNG de 1 Ko (sha256 {hashlib.sha256(PNG).hexdigest()[:12]}).",
    ]
    with runtime.db.read() as s:
        actors = set(
            s.scalars(
                select(CaseEvent.actor).where(
                    CaseEvent.case_id == coop.space_id, CaseEvent.kind == "comment"
                )
            )
        )
    assert actors == {f"mandataire:{coop.mandataire_id} Éloïse Martin"}

    page = _space_page(client)
    assert "Enregistré : l'adresse, le téléphone et le logo." in page
    assert "04 93 12 34 56" in page
    src = re.search(r'<img class="logo" src="([^"]+)" alt="Logo de la coopérative">', page)
    assert src
    image = client.get(src.group(1))
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data == PNG
    assert image.headers["X-Content-Type-Options"] == "nosniff"

    # A new logo replaces the old one; a logo is never listed as a document.
    assert (
        _details(client, files={"logo": (BytesIO(JPEG), "logo.png", "image/png")}).status_code
        == 302
    )
    with runtime.db.read() as s:
        logos = s.scalars(select(Document).where(Document.coop_id == coop.coop_id)).all()
    assert [(d.kind, d.content_type, d.filename) for d in logos] == [
        ("logo", "image/jpeg", "logo.jpg")
    ]
    assert client.get("/mon-espace/verification/logo").data == JPEG
    assert _events(runtime, coop.space_id)[-1].startswith("Logo remplacé : image JPEG")
    assert "Logo de la coopérative" not in text(client.get("/mon-espace/documents"))
    assert client.get(f"/mon-espace/documents/{logos[0].id}").status_code == 404

    # Sending the same details again changes nothing and audits nothing.
    count = len(_events(runtime, coop.space_id))
    again = _details(client)
    assert again.status_code == 302
    assert "Rien n'a changé" in _space_page(client)
    assert len(_events(runtime, coop.space_id)) == count


def _big_png() -> bytes:
    return PNG + b"\x00" * (LOGO_MAX_BYTES + 1 - len(PNG))


@pytest.mark.parametrize(
    ("field", "fields", "logo", "error"),
    [
        ("postal_code", {"postal_code": "6000"}, None, "Code postal « 6000 » invalide"),
        ("postal_code", {"postal_code": "O6OOO"}, None, "5 chiffres attendus"),
        ("phone", {"phone": "12 34"}, None, "Numéro de téléphone invalide"),
        ("phone", {"phone": "+44 20 7946 0958"}, None, "Numéro de téléphone invalide"),
        ("city", {"city": ""}, None, "Indiquez la commune."),
        (
            "logo",
            {},
            ("big.png", "image/png", "big"),
            "Le logo est trop lourd (1,0 Mo) : 1 Mo au plus.",
        ),
        (
            "logo",
            {},
            ("logo.png", "image/png", b"Ceci est un fichier texte, pas une image.\n"),
            "n'est pas une image PNG ou JPEG",
        ),
    ],
    ids=["postal-4", "postal-letters", "phone-short", "phone-abroad", "city", "big", "text"],
)
def test_bad_details_are_refused_next_to_their_field(
    runtime, app, client, make_coop, field, fields, logo, error
):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    before = _coop(runtime, coop.coop_id)
    files = None
    if logo is not None:
        name, content_type, content = logo
        content = _big_png() if content == "big" else content
        files = {"logo": (BytesIO(content), name, content_type)}
    refused = _details(client, files=files, **fields)
    assert refused.status_code == 422
    page = text(refused)
    match = re.search(rf'<p class="error" id="{field}-error">([^<]+)</p>', page)
    assert match and error in match.group(1), page
    assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error"', page)
    assert "Rien n'a été enregistré" in page
    if field != "logo":  # what was typed is still there to correct
        assert f'value="{fields[field]}"' in page

    after = _coop(runtime, coop.coop_id)
    assert (after.street, after.postal_code, after.city, after.phone) == (
        before.street,
        before.postal_code,
        before.city,
        before.phone,
    )
    with runtime.db.read() as s:
        assert s.scalars(select(Document).where(Document.coop_id == coop.coop_id)).all() == []
    assert _events(runtime, coop.space_id) == []


def test_the_emails_cannot_be_changed_from_the_portal(runtime, app, client, make_coop):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    page = _space_page(client)
    assert re.search(r'<input type="email" id="school_email" value="[^"]+" readonly', page)
    assert "seule l'équipe de votre association départementale peut la changer" in page
    school_email = _coop(runtime, coop.coop_id).school_email
    posted = _details(
        client, school_email="pirate@example.com", email="pirate@example.com", login_email="x@y.z"
    )
    assert posted.status_code == 302
    with runtime.db.read() as s:
        assert s.get(Coop, coop.coop_id).school_email == school_email
        assert s.get(Mandataire, coop.mandataire_id).email == coop.email


def test_before_the_check_opens_the_page_says_why(runtime, app, client, make_coop):
    coop = make_coop("invited")
    log_in_mandataire(app, client, coop.mandataire_id)
    page = _space_page(client)
    assert "Pas encore ouverte" in page and "Disponible dès votre première connexion." in page
    assert "Tout est correct</button>" not in page and 'id="coordonnees"' not in page
    refused = _details(
        client, page=page, street="1 rue X", postal_code="06000", city="Nice", phone=""
    )
    assert refused.status_code == 409 and "pas encore ouverte" in text(refused)
    assert _coop(runtime, coop.coop_id).street == "12 rue de la République"


def test_portal_pages_forbid_scripts_and_forms_need_their_token(runtime, app, client, make_coop):
    coop = make_coop("active")
    log_in_mandataire(app, client, coop.mandataire_id)
    for path in ("/mon-espace", SPACE, "/mon-espace/documents"):
        response = client.get(path)
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert "<script" not in response.get_data(as_text=True)
        assert response.headers["Cache-Control"] == "private, no-store"
    forged = client.post(f"{SPACE}/confirmer", data={"version": "1"})
    assert forged.status_code == 302  # back to a page, « Ce formulaire avait expiré »
    assert case_row(runtime, coop.space_id).state == "to_check"
