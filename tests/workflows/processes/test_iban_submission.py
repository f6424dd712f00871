"""A RIB handed in: its file judged by its content, and nothing kept when the case
cannot take it."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.helpers import active_account, case_of
from workflows.engine.engine import Actor
from workflows.engine.errors import TransitionNotAllowed
from workflows.models import BankAccount, Case, Document
from workflows.processes.iban.rib_checks import RibInput
from workflows.processes.iban.submission import RIB_MAX_BYTES, check_rib_file, submit_rib

PDF = b"%PDF-1.7\n" + b"0" * 200
TYPED = RibInput(
    iban="fr76 3000 6000 0112 3456 7890 189",
    bic="agrifrpp",
    holder=" OCCE 06 Coop Jaurès ",
    rib_date=date(2026, 9, 1),
)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "vide"),
        (b"%PDF-" + b"0" * RIB_MAX_BYTES, r"trop lourd \(5,0 Mo\)"),
        (b"PK\x03\x04 un classeur renomme rib.pdf", "ni un PDF"),
        (b"GIF89a", "ni un PDF"),
    ],
)
def test_a_file_is_judged_by_its_content(content: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_rib_file(content)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (PDF, "application/pdf"),
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
    ],
)
def test_pdf_png_and_jpeg_are_taken(content: bytes, content_type: str) -> None:
    assert check_rib_file(content).content_type == content_type


def _count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with engine.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_the_file_and_the_fields_are_kept_with_the_transition(engine, ad):
    mandataire = active_account(engine, ad)
    me = Actor.mandataire(mandataire)
    case_id = case_of(engine, mandataire.coop_id, "iban").id
    with engine.transaction() as tx:
        account = submit_rib(tx, tx.lock(case_id), TYPED, check_rib_file(PDF), by=me, key="jeton-1")
    with engine.db.read() as s:
        kept = s.get(BankAccount, account.id)
        case = s.get(Case, case_id)
        document = s.get(Document, kept.document_id)
        event = case.events[-1]
    assert (kept.iban, kept.bic, kept.holder) == (
        "FR7630006000011234567890189",
        "AGRIFRPP",
        "OCCE 06 Coop Jaurès",
    )
    assert case.state == "checking" and case.data["bank_account_id"] == kept.id
    assert document.kind == "rib" and document.content == PDF and document.size == len(PDF)
    assert event.payload["iban"] == "FR76 **** **** **** **** ***0 189"

    # The case checks it now: a second RIB is refused and nothing of it is kept.
    with pytest.raises(TransitionNotAllowed), engine.transaction() as tx:
        submit_rib(tx, tx.lock(case_id), TYPED, check_rib_file(PDF), by=me, key="jeton-2")
    assert (_count(engine, BankAccount), _count(engine, Document)) == (1, 1)
