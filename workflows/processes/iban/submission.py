"""A RIB handed in by the mandataire: the file checked by its content, then the file, the
typed fields and ``submit_rib`` in one transaction (the step ``check_rib`` decides)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from workflows.engine.engine import Actor, UnitOfWork
from workflows.formatting import date_fr
from workflows.models import BankAccount, Case, Document
from workflows.processes.iban.definition import PROCESS
from workflows.processes.iban.rib_checks import RibInput, compact, mask_iban

#: « RIB (PDF, PNG ou JPEG) », at most 5 Mo.
RIB_MAX_BYTES = 5 * 1024 * 1024
#: Magic bytes: what the file is, whatever its name or the browser's content type say.
_SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)
KIND = "rib"
RIB_EMPTY = "Le fichier envoyé est vide."
RIB_NOT_A_RIB = (
    "Ce fichier n'est ni un PDF, ni une image PNG ou JPEG (son contenu a été vérifié, pas "
    "seulement son nom). Joignez le RIB au format PDF, PNG ou JPEG."
)


@dataclass(frozen=True)
class RibFile:
    """An uploaded RIB whose content is a PDF, a PNG or a JPEG image."""

    content: bytes
    content_type: str
    extension: str


def check_rib_file(content: bytes, *, not_accepted: str = RIB_NOT_A_RIB) -> RibFile:
    """The RIB if ``content`` is a PDF, PNG or JPEG of at most 5 Mo; else
    ``ValueError`` with the French reason (its name is never trusted). ``not_accepted``:
    what is said of another content (another upload checked alike: a quote)."""
    if not content:
        raise ValueError(RIB_EMPTY)
    if len(content) > RIB_MAX_BYTES:
        size = f"{len(content) / (1024 * 1024):.1f}".replace(".", ",")
        raise ValueError(f"Le fichier est trop lourd ({size} Mo) : 5 Mo au plus.")
    for signature, content_type, extension in _SIGNATURES:
        if content.startswith(signature):
            return RibFile(content, content_type, extension)
    raise ValueError(not_accepted)


def stored_upload(
    tx: UnitOfWork,
    file: RibFile,
    *,
    key: str,
    coop_id: int,
    case_id: int | None,
    kind: str,
    title: str,
    stem: str,
) -> Document:
    """An uploaded file checked by :func:`check_rib_file`, kept as a document of the coop
    in ``tx`` (flushed: its id known), named ``<stem>.<its extension>``; ``key`` makes it
    unique."""
    document = Document(
        idempotency_key=key,
        coop_id=coop_id,
        case_id=case_id,
        kind=kind,
        title=title,
        filename=f"{stem}.{file.extension}",
        content_type=file.content_type,
        content=file.content,
        sha256=hashlib.sha256(file.content).hexdigest(),
        size=len(file.content),
        created_at=tx.now,
    )
    tx.session.add(document)
    tx.session.flush()
    return document


def submit_rib(
    tx: UnitOfWork, case: Case, typed: RibInput, file: RibFile, *, by: Actor, key: str
) -> BankAccount:
    """Keep the file and what was typed, and fire ``submit_rib``: in ``tx``, so that a
    refused transition keeps nothing. ``key`` makes the stored file unique (the form's
    one-time token: a second click stores nothing more)."""
    assert case.process == PROCESS
    document = stored_upload(
        tx,
        file,
        key=f"rib:{key}",
        coop_id=case.coop_id,
        case_id=case.id,
        kind=KIND,
        title=f"RIB déposé le {date_fr(tx.now)}",
        stem=f"rib-{case.coop.affiliation_number}",
    )
    account = BankAccount(
        coop_id=case.coop_id,
        case_id=case.id,
        iban=compact(typed.iban)[:34],
        bic=compact(typed.bic)[:11],
        holder=" ".join(typed.holder.split())[:140],
        rib_date=typed.rib_date,
        document_id=document.id,
        submitted_at=tx.now,
        submitted_by=by.name,
    )
    tx.session.add(account)
    tx.session.flush()
    tx.fire(
        case.id,
        "submit_rib",
        actor=by,
        payload={"bank_account_id": account.id, "iban": mask_iban(account.iban)},
    )
    case.data = {**case.data, "bank_account_id": account.id}
    return account
