"""The space_check steps called directly: one notification a day per coop, one PDF."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.factories import MandataireFactory
from tests.workers.steps.test_invitation import Services
from workers.runner import run_step
from workflows.engine.engine import Actor
from workflows.models import BankAccount, Case, Document, Email, Step

SYSTEM = Actor.system("test")


@pytest.fixture
def services(settings, engine, smtp_server):
    return Services(settings, engine, smtp_server.url)


def _space_case(engine, ad, *, account: bool = True) -> tuple[int, int]:
    """A coop whose mandataire has (or not) an account, and its space_check case."""
    mandataire = MandataireFactory(coop__ad=ad, password_hash="argon2-hash" if account else None)
    with engine.transaction() as tx:
        case = tx.start("space_check", mandataire.coop_id, actor=SYSTEM)
        return case.id, mandataire.coop_id


def _steps(engine, case_id: int, name: str) -> list[int]:
    with engine.db.read() as s:
        return list(
            s.scalars(
                select(Step.id).where(Step.case_id == case_id, Step.name == name).order_by(Step.id)
            )
        )


def _emails(engine, coop_id: int) -> list[Email]:
    with engine.db.read() as s:
        return list(s.scalars(select(Email).where(Email.coop_id == coop_id)))


def test_one_notification_a_day_per_coop(services, engine, clock, smtp_server, ad):
    case_id, coop_id = _space_case(engine, ad)
    [first] = _steps(engine, case_id, "notify_mandataire")
    run_step(services, first)
    run_step(services, first)  # delivered twice: one email
    [email] = _emails(engine, coop_id)
    assert email.kind == "notification" and "Vérifier mon espace" in email.html_body
    assert f"{services.settings.base_url}/mon-espace/verification" in email.text_body
    assert len(smtp_server.messages) == 1

    with engine.transaction() as tx:  # a reminder the same day: nothing sent
        tx.fire(case_id, "remind", actor=SYSTEM)
    run_step(services, _steps(engine, case_id, "notify_mandataire")[-1])
    assert len(_emails(engine, coop_id)) == 1

    clock.advance(timedelta(hours=24, minutes=1))  # the next day: sent
    with engine.transaction() as tx:
        tx.fire(case_id, "remind", actor=SYSTEM)
    run_step(services, _steps(engine, case_id, "notify_mandataire")[-1])
    assert len(_emails(engine, coop_id)) == 2 and len(smtp_server.messages) == 2


def test_no_notification_before_the_mandataire_has_an_account(services, engine, ad):
    case_id, coop_id = _space_case(engine, ad, account=False)
    run_step(services, _steps(engine, case_id, "notify_mandataire")[0])
    assert _emails(engine, coop_id) == []


def test_the_summary_pdf_is_rendered_once(services, engine, ad):
    case_id, coop_id = _space_case(engine, ad)
    with engine.db.read() as s:
        mandataire_id = s.scalars(select(Case.coop_id).where(Case.id == case_id)).one()
    with engine.transaction() as tx:
        tx.fire(case_id, "confirm", actor=Actor("mandataire", mandataire_id, "Hélène Dupré"))
    [step_id] = _steps(engine, case_id, "render_space_summary")
    run_step(services, step_id)
    run_step(services, step_id)
    with engine.db.read() as s:
        [document] = s.scalars(select(Document).where(Document.coop_id == coop_id)).all()
        step = s.get(Step, step_id)
    assert document.content.startswith(b"%PDF") and document.size == len(document.content)
    assert document.filename.startswith("verification-espace-") and step.status == "done"
    assert step.result == {"document_id": document.id}


def test_the_summary_names_the_certified_account_masked(services, engine, ad):
    case_id, coop_id = _space_case(engine, ad)
    with engine.transaction() as tx:
        tx.session.add(
            BankAccount(
                coop_id=coop_id,
                case_id=case_id,
                iban="FR7630006000011234567890189",
                bic="AGRIFRPP",
                holder="OCCE 06 COOP JAURES",
                rib_date=date(2026, 9, 1),
                submitted_by="Hélène Dupré",
                status="certified",
                certified_at=tx.now,
            )
        )
        tx.fire(case_id, "confirm", actor=Actor("mandataire", 1, "Hélène Dupré"))
    [step_id] = _steps(engine, case_id, "render_space_summary")
    run_step(services, step_id)
    with engine.db.read() as s:
        [document] = s.scalars(select(Document).where(Document.coop_id == coop_id)).all()
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(document.content)).pages)
    assert "FR76 **** **** **** **** ***0 189" in text and "AGRIFRPP" in text
    assert "30006000011234567890189" not in text.replace(" ", "")
