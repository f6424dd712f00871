"""« Compte bancaire »: the RIB form (each field's French error next to it, the file
checked by its content, nothing stored on a refusal), a RIB taken once whatever the
clicks and checked by the real ``check_rib`` (rejected with its errors next to the
fields, to review, certified), the certified account shown masked with « Le compte
affiché n'est pas le nôtre », and the uploaded RIB downloaded by its coop only."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, select

from tests.helpers import case_of, csrf_token
from tests.test_typography import assert_french, read
from tests.web.conftest import JPEG, PNG, form_value, log_in_mandataire, settle, text
from tests.workflows.processes.test_iban_rib_checks import wrong_rib_key
from web.portal.rib_form import RIB_REQUIRED, RIB_TOO_LARGE
from workers.providers.swan.sandbox import set_outage
from workflows.engine.engine import Actor
from workflows.models import BankAccount, CaseEvent, Document, Step, StepStatus
from workflows.processes.iban import rib_checks
from workflows.processes.iban.submission import RIB_MAX_BYTES, RIB_NOT_A_RIB

PAGE = "/mon-espace/compte-bancaire"
REPORT = "/mon-espace/compte-bancaire/signaler"
IBAN = "FR7630006000011234567890189"
MASKED = "FR76 **** **** **** **** ***0 189"
PDF = b"%PDF-1.7\n" + b"0" * 200
#: The tests' clock is on 7 September 2026.
RECENT = date(2026, 6, 1)
GOOD = {
    "iban": "fr76 3000 6000 0112 3456 7890 189",
    "bic": "agri frpp",
    "holder": "Office central de coopération à l'école",
    "rib_date": RECENT.isoformat(),
}


def _page(client) -> str:
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<h1") == 1
    assert_french(PAGE, read(html))  # « : ; ! ? » and « » that hold
    return text(response)


def _plain(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def _post(client, page: str | None = None, *, rib=(PDF, "rib.pdf", "application/pdf"), **fields):
    """The form of ``page`` (the page as it is now by default) with ``fields``."""
    page = page or _page(client)
    data: dict = {
        "csrf_token": csrf_token(page),
        "submission": form_value(page, "submission"),
        **GOOD,
        **fields,
    }
    if rib is not None:
        content, name, content_type = rib
        data["rib"] = (BytesIO(content), name, content_type)
    return client.post(PAGE, data=data, content_type="multipart/form-data")


def _error(page: str, field: str) -> str | None:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]+)</p>', page)
    return found.group(1) if found else None


def _stored(runtime, coop_id: int) -> tuple[int, int]:
    """How many RIBs (bank accounts, uploaded files) the coop has."""
    with runtime.db.read() as s:
        accounts = s.scalar(
            select(func.count()).select_from(BankAccount).where(BankAccount.coop_id == coop_id)
        )
        files = s.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.coop_id == coop_id, Document.kind == "rib")
        )
    return accounts, files


def _account(runtime, coop_id: int) -> BankAccount:
    with runtime.db.read() as s:
        return s.scalars(select(BankAccount).where(BankAccount.coop_id == coop_id)).one()


@pytest.fixture
def coop(app, client, make_coop):
    """A coop whose account is active (its iban case awaiting the RIB), logged in."""
    made = make_coop("active")
    log_in_mandataire(app, client, made.mandataire_id)
    return made


def test_the_form_is_labelled_as_the_rib_reads(runtime, client, coop):
    page = _page(client)
    assert "À faire : déposez un RIB de moins de 12 mois" in page
    for field, label in (
        ("iban", "IBAN"),
        ("bic", "BIC"),
        ("holder", "Titulaire du compte"),
        ("rib_date", "Date du RIB"),
        ("rib", "RIB (PDF, PNG ou JPEG)"),
    ):
        assert f'<label for="{field}">{label}</label>' in page
    assert re.search(r'<input[^>]*id="rib_date"[^>]*type="date"', page)
    assert re.search(r'<input[^>]*accept="application/pdf,image/png,image/jpeg"[^>]*id="rib"', page)
    assert 'enctype="multipart/form-data"' in page
    assert '<meta http-equiv="refresh"' not in page
    response = client.get(PAGE)
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "<script" not in response.get_data(as_text=True)


_BIG_PDF = b"%PDF-" + b"0" * (RIB_MAX_BYTES + 1 - 5)


@pytest.mark.parametrize(
    ("fields", "rib", "field", "error"),
    [
        ({"iban": "  "}, None, "iban", rib_checks.IBAN_REQUIRED),
        ({"iban": "FR76-3000-6000"}, None, "iban", "IBAN invalide : 2 lettres (le pays)"),
        ({"bic": ""}, None, "bic", rib_checks.BIC_REQUIRED),
        ({"bic": "AGRIFR"}, None, "bic", rib_checks.BIC_BAD_LENGTH),
        ({"holder": ""}, None, "holder", rib_checks.HOLDER_REQUIRED),
        ({"rib_date": ""}, None, "rib_date", "Indiquez la date du RIB."),
        ({"rib_date": "\u3000 "}, None, "rib_date", "Indiquez la date du RIB."),
        ({"rib_date": "le 3 mai"}, None, "rib_date", "Date invalide"),
        ({"rib_date": "٢٠٢٦-٠٩-٠١"}, None, "rib_date", "Date invalide"),
        ({}, "none", "rib", RIB_REQUIRED),
        ({}, (b"Nom;IBAN\nCoop;FR76\n", "rib.csv", "text/csv"), "rib", RIB_NOT_A_RIB),
        ({}, (b"GIF89a" + b"0" * 40, "rib.gif", "image/gif"), "rib", RIB_NOT_A_RIB),
        ({}, (b"Bonjour, voici mon RIB", "rib.pdf", "application/pdf"), "rib", RIB_NOT_A_RIB),
        ({}, (b"", "rib.pdf", "application/pdf"), "rib", "Le fichier envoyé est vide."),
        ({"holder": "x" * 141}, None, "holder", "Nom du titulaire trop long (140 caractères"),
        ({}, (_BIG_PDF, "rib.pdf", "application/pdf"), "rib", "trop lourd (5,0 Mo) : 5 Mo"),
    ],
    ids=[
        "iban-missing",
        "iban-shape",
        "bic-missing",
        "bic-length",
        "holder-missing",
        "date-missing",
        "date-spaces",
        "date-words",
        "date-other-digits",
        "file-missing",
        "file-csv",
        "file-gif",
        "named-pdf-but-text",
        "file-empty",
        "holder-too-long",
        "file-over-5-mb",
    ],
)
def test_a_bad_input_is_refused_next_to_its_field_and_nothing_is_stored(
    runtime, client, coop, fields, rib, field, error
):
    iban_case = case_of(runtime.engine, coop.coop_id, "iban")
    kwargs = {} if rib is None else {"rib": None if rib == "none" else rib}
    refused = _post(client, **fields, **kwargs)
    assert refused.status_code == 422
    assert_french(PAGE, read(refused.get_data(as_text=True)))
    page = text(refused)
    said = _error(page, field)
    assert said is not None and error in said, page
    assert re.search(
        rf'<input[^>]*aria-describedby="{field}-hint {field}-error"[^>]*id="{field}"', page
    )
    assert "Rien n'a été enregistré" in page and f'href="#{field}"' in page
    if field != "rib" and fields[field].strip():  # what was typed, there to correct
        assert f'value="{fields[field]}"' in page
    assert _stored(runtime, coop.coop_id) == (0, 0)
    after = case_of(runtime.engine, coop.coop_id, "iban")
    assert (after.state, after.version) == ("awaiting_rib", iban_case.version)


def test_a_file_past_the_sites_limit_is_refused_next_to_the_file(runtime, client, coop):
    page = _page(client)
    huge = (b"%PDF-" + b"0" * (7 * 1024 * 1024), "rib.pdf", "application/pdf")
    refused = _post(client, page, rib=huge)
    assert refused.status_code == 413
    assert _error(text(refused), "rib") == RIB_TOO_LARGE
    assert _stored(runtime, coop.coop_id) == (0, 0)


def test_a_good_rib_is_stored_once_then_checked_and_certified(runtime, client, coop):
    page = _page(client)
    first = _post(client, page)
    second = _post(client, page)  # a double click: same rendering, same values
    assert first.status_code == 302 and first.headers["Location"] == PAGE
    assert second.status_code == 303 and second.headers["Location"] == PAGE
    assert _stored(runtime, coop.coop_id) == (1, 1)
    iban_case = case_of(runtime.engine, coop.coop_id, "iban")
    account = _account(runtime, coop.coop_id)
    # Typed with spaces and in lower case: kept compact, upper case.
    assert (account.iban, account.bic, account.rib_date) == (IBAN, "AGRIFRPP", RECENT)
    assert account.submitted_by == "Éloïse Martin"  # as staff read it (the event has the id)
    assert iban_case.data["bank_account_id"] == account.id
    with runtime.db.read() as s:
        submitted = s.scalars(
            select(CaseEvent).where(
                CaseEvent.case_id == iban_case.id, CaseEvent.trigger == "submit_rib"
            )
        ).all()
        document = s.get(Document, account.document_id)
        assert (document.kind, document.content_type, document.content) == (
            "rib",
            "application/pdf",
            PDF,
        )
    assert [(e.to_state, e.payload) for e in submitted] == [
        ("checking", {"bank_account_id": account.id, "iban": MASKED})
    ]
    shown = text(client.get(PAGE))
    assert "Votre RIB est déposé : il est en cours de vérification." in shown

    settle(runtime)
    page = _page(client)
    assert "Compte bancaire certifié" in page
    assert MASKED in page and IBAN not in page
    facts = _plain(page)
    assert "Titulaire du compte Office central de coopération à l'école" in facts
    assert "BIC AGRIFRPP" in facts and "Banque CREDIT AGRICOLE SA" in facts
    assert "Certifié le 07/09/2026" in facts
    assert "Le compte affiché n'est pas le nôtre</button>" in page
    assert 'id="deposer"' not in page

    # Its own RIB, from « Documents »: the coop's only.
    download = client.get(f"/mon-espace/documents/{account.document_id}")
    assert download.status_code == 200 and download.data == PDF


def test_while_swan_certifies_the_page_reloads_itself(runtime, client, clock, coop):
    """Swan down: the RIB checked stays « vérifié » while ``certify_account`` retries."""
    set_outage(runtime.db, clock.now() + timedelta(minutes=30))
    assert _post(client).status_code == 302
    _wait_for_a_failed_attempt(runtime, case_of(runtime.engine, coop.coop_id, "iban").id)
    page = _page(client)
    assert "RIB vérifié, certification en cours" in page
    assert "la certification du compte est en cours auprès de Swan" in page
    assert f'<meta http-equiv="refresh" content="3; url={PAGE}">' in page
    assert page.index('http-equiv="refresh"') < page.index("</head>")  # valid HTML
    assert "toutes les 3 secondes" in page
    assert 'id="deposer"' not in page and MASKED not in page


def _wait_for_a_failed_attempt(runtime, case_id: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with runtime.db.read() as s:
            step = s.scalars(
                select(Step).where(
                    Step.case_id == case_id,
                    Step.name == "certify_account",
                    Step.status == StepStatus.PENDING.value,
                    Step.attempts > 0,
                )
            ).first()
        if step is not None:
            return
        time.sleep(0.05)
    raise AssertionError("certify_account n'a pas échoué pendant la panne")


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"rib_date": "2025-09-06"}, "rib_date", rib_checks.RIB_TOO_OLD),
        ({"iban": wrong_rib_key(IBAN)}, "iban", rib_checks.IBAN_BAD_RIB_KEY),
    ],
    ids=["older-than-12-months", "wrong-rib-key"],
)
def test_a_refused_rib_comes_back_prefilled_with_its_errors(
    runtime, client, coop, fields, field, error
):
    assert _post(client, **fields).status_code == 302
    settle(runtime)
    assert case_of(runtime.engine, coop.coop_id, "iban").state == "rejected"
    page = _page(client)
    assert "RIB refusé : déposez-en un nouveau" in page
    assert _error(page, field) == error
    assert re.search(rf'<input[^>]*aria-invalid="true"[^>]*id="{field}"', page)
    top = re.search(r'<div class="errors" role="alert" id="erreurs">(.*?)</div>', page, re.S)
    assert top and error in top.group(1) and f'href="#{field}"' in top.group(1)
    typed = {**GOOD, **fields}
    account = _account(runtime, coop.coop_id)
    for name in ("iban", "bic", "holder"):  # as stored: what was typed, compacted
        assert f'value="{getattr(account, name)}"' in page
    assert f'value="{typed["rib_date"]}"' in page
    assert re.search(r'<input[^>]*id="rib"[^>]*type="file">', page)  # never the file
    assert f"/mon-espace/documents/{account.document_id}" in page

    # A new RIB: the case is checked again.
    again = _post(client, page)
    assert again.status_code == 302
    settle(runtime)
    assert case_of(runtime.engine, coop.coop_id, "iban").state == "certified"
    assert _stored(runtime, coop.coop_id) == (2, 2)


def test_a_holder_the_ad_does_not_expect_goes_to_its_team(runtime, client, coop):
    assert _post(client, holder="Jean Dupont", rib=(PNG, "rib.png", "image/png")).status_code == 302
    settle(runtime)
    page = _page(client)
    assert "RIB reçu : l'équipe de votre AD le vérifie" in page
    assert "l'équipe de votre AD vérifie votre RIB" in page
    assert 'id="deposer"' not in page and '<meta http-equiv="refresh"' not in page
    with runtime.db.read() as s:
        kinds = s.scalars(select(Document.content_type).where(Document.kind == "rib")).all()
    assert kinds == ["image/png"]


def test_a_refusal_by_the_ads_team_is_read_next_to_its_fields(runtime, client, coop):
    """As the review form writes it: messages by field (« document »: the file), an
    « autre » motif naming none, a message to the mandataire."""
    assert _post(client, holder="Jean Dupont").status_code == 302
    settle(runtime)
    unreadable = "Le RIB joint est illisible : joignez un scan net."
    other = "Le RIB est celui de l'ancienne coopérative."
    with runtime.engine.transaction() as tx:
        account = tx.session.scalars(
            select(BankAccount).where(BankAccount.coop_id == coop.coop_id)
        ).one()
        account.errors = {"document": unreadable, "other": other}
        account.status = "rejected"
        tx.fire(
            account.case_id,
            "refuse",
            actor=Actor("staff", 1, "Claire Agent"),
            payload={"bank_account_id": account.id, "message": "Appelez-nous au besoin."},
            comment="Motifs : RIB illisible ; autre. (pour l'historique)",
        )
    settle(runtime)
    page = _page(client)
    assert "a été refusé par l'équipe de votre association départementale (OCCE 06)" in page
    assert _error(page, "rib") == unreadable
    top = re.search(r'<div class="errors" role="alert" id="erreurs">(.*?)</div>', page, re.S)
    assert top and other in top.group(1) and unreadable in top.group(1)
    assert "Son message : « Appelez-nous au besoin. »" in page
    assert "pour l'historique" not in page
    assert 'value="Jean Dupont"' in page


def test_the_account_shown_is_not_ours(runtime, client, coop):
    assert _post(client, rib=(JPEG, "rib.jpg", "image/jpeg")).status_code == 302
    settle(runtime)
    page = _page(client)
    fields = {"csrf_token": csrf_token(page), "submission": form_value(page, "submission")}

    empty = client.post(REPORT, data={**fields, "message": "   "})
    assert empty.status_code == 422
    said = _error(text(empty), "message")
    assert said == "Dites-nous ce qui ne va pas : votre message est vide."
    long = client.post(REPORT, data={**fields, "message": "x" * 2001})
    assert long.status_code == 422
    assert _error(text(long), "message") == "Votre message est trop long (2000 caractères au plus)."
    assert "x" * 2001 in text(long)  # given back to shorten
    assert case_of(runtime.engine, coop.coop_id, "iban").state == "certified"

    message = "Ce n'est pas notre IBAN : notre compte est au Crédit Mutuel."
    sent = client.post(REPORT, data={**fields, "message": message})
    twice = client.post(REPORT, data={**fields, "message": message})
    assert (sent.status_code, twice.status_code) == (302, 303)
    iban_case = case_of(runtime.engine, coop.coop_id, "iban")
    assert iban_case.state == "mismatch_reported"
    assert iban_case.stuck_reason == "iban_mismatch"
    page = _page(client)
    assert "Votre signalement est envoyé" in page
    assert "Signalé : l'équipe de votre AD vérifie le compte" in page
    assert f"Votre message : « {message} »" in page
    assert MASKED in page and "Le compte affiché n'est pas le nôtre</button>" not in page


def test_another_coops_mandataire_cannot_see_or_act(runtime, app, client, make_coop, coop):
    assert _post(client).status_code == 302
    settle(runtime)
    mine = _account(runtime, coop.coop_id)
    other = make_coop("active")
    theirs = app.test_client()
    log_in_mandataire(app, theirs, other.mandataire_id)
    page = text(theirs.get(PAGE))
    assert "À faire : déposez un RIB de moins de 12 mois" in page
    assert MASKED not in page and IBAN not in page
    assert theirs.get(f"/mon-espace/documents/{mine.document_id}").status_code == 404
    refused = theirs.post(REPORT, data={"csrf_token": csrf_token(page), "message": "Pirate"})
    assert refused.status_code == 409
    assert case_of(runtime.engine, coop.coop_id, "iban").state == "certified"


def test_a_coop_without_an_iban_case_is_not_found(runtime, app, client, ad):
    from tests import factories

    person = factories.MandataireFactory(coop__ad=ad, password_hash="argon2-hash-of-the-tests")
    log_in_mandataire(app, client, person.id)
    assert client.get(PAGE).status_code == 404


def test_old_rib_dates_are_told_by_the_step_not_the_form(runtime, client, coop):
    """The form takes any well-formed date: 364 days is fine, 366 is refused by the
    checks (the one place that says how old is too old)."""
    today = date(2026, 9, 7)
    assert _post(client, rib_date=(today - timedelta(days=364)).isoformat()).status_code == 302
    settle(runtime)
    assert case_of(runtime.engine, coop.coop_id, "iban").state == "certified"
