"""What the iban's task pages show (:mod:`admin.processes.iban`): the RIB as the
mandataire typed it, the full IBAN (these pages are for the staff who decide on it), its
file framed (PDF) or as an image, the checks' doubts, the mismatch report; and the file
itself, served to those pages only."""

from __future__ import annotations

from typing import Any

from flask import Response, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from web.auth import StaffPrincipal
from workflows.mandataires import latest_with_account
from workflows.models import BankAccount, Case, CaseEvent, Document
from workflows.processes.iban.accounts import certified_account, expected_holders

#: The file types the portal accepts (checked by content), shown in the page.
INLINE_TYPES = {"application/pdf": "pdf", "image/png": "image", "image/jpeg": "image"}
#: The RIB file, framed by the review page only: nothing else loads from it.
FILE_POLICY = "default-src 'none'; img-src 'self'; frame-ancestors 'self'; base-uri 'none'"


def case_account(session: Session, case: Case, *, lock: bool = False) -> BankAccount | None:
    """The case's latest submitted RIB (``case.data["bank_account_id"]``)."""
    account_id = (case.data or {}).get("bank_account_id")
    if not account_id:
        return None
    account = session.get(BankAccount, int(account_id), with_for_update=lock)
    return account if account is not None and account.case_id == case.id else None


def grouped(iban: str) -> str:
    """The full IBAN in groups of four, as printed on a RIB."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _file(session: Session, case: Case, account: BankAccount | None) -> dict[str, Any] | None:
    """How the page shows the RIB's file: framed (PDF), as an image, or a download."""
    if account is None or account.document_id is None:
        return None
    document = session.scalars(
        select(Document)
        .where(Document.id == account.document_id, Document.coop_id == case.coop_id)
        .options(defer(Document.content))
    ).one_or_none()
    if document is None:
        return None
    return {
        "url": url_for(".rib_file", case_id=case.id, document_id=document.id),
        "shown_as": INLINE_TYPES.get(document.content_type),
        "filename": document.filename,
        "size": document.size,
    }


def account_lines(session: Session, case: Case, account: BankAccount | None) -> dict[str, Any]:
    if account is None:
        return {"account": None, "file": None}
    return {
        "account": account,
        "iban": grouped(account.iban),
        "rib_date": account.rib_date.strftime("%d/%m/%Y"),
        "file": _file(session, case, account),
    }


def review_context(session: Session, case: Case, principal: StaffPrincipal) -> dict[str, Any]:
    account = case_account(session, case)
    review = account.review if account is not None else {}
    reasons = review.get("reasons", []) if isinstance(review, dict) else list(review or [])
    return {
        **account_lines(session, case, account),
        "review_reasons": reasons,
        "expected_holders": expected_holders(case.coop.ad.code, case.coop.name),
        "mandataire": latest_with_account(session, case.coop_id),
    }


def mismatch_context(session: Session, case: Case, principal: StaffPrincipal) -> dict[str, Any]:
    report = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.trigger == "report_mismatch")
        .order_by(CaseEvent.id.desc())
        .limit(1)
    ).first()
    return {
        **account_lines(session, case, certified_account(session, case.coop_id)),
        "report": report,
        "message": str((report.payload or {}).get("message") or "") if report else "",
        "mandataire": latest_with_account(session, case.coop_id),
    }


def inline(document: Document) -> Response:
    """The RIB's file as the review page shows it: in its frame (PDF) or image, of this
    site only; any other type is only downloaded, never rendered."""
    shown = document.content_type in INLINE_TYPES
    response = Response(
        document.content, mimetype=document.content_type if shown else "application/octet-stream"
    )
    disposition = "inline" if shown else "attachment"
    response.headers.set("Content-Disposition", disposition, filename=document.filename)
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def rib_document(session: Session, case: Case, document_id: int) -> Document | None:
    """One of the case's RIB files (a document a RIB of this case names), or ``None``:
    never another coop's file nor a document that is no RIB."""
    owned = session.scalar(
        select(BankAccount.id).where(
            BankAccount.case_id == case.id, BankAccount.document_id == document_id
        )
    )
    document = session.get(Document, document_id) if owned else None
    return document if document is not None and document.coop_id == case.coop_id else None
