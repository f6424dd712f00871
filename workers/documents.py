"""Documents people keep: HTML templates rendered to PDF by WeasyPrint, stored once.

A step renders its document under its own idempotency key: run twice (a redelivery, a
retry after a crash), it stores one document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jinja2 import select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from workers.templating import environment
from workflows.engine.engine import Engine
from workflows.models import Document

_templates = environment(
    "documents", autoescape=select_autoescape(["html"]), keep_trailing_newline=True
)


@dataclass(frozen=True)
class Draft:
    """What a step wants stored: the template, its context, and the document's names."""

    template: str
    context: dict[str, Any]
    coop_id: int
    case_id: int | None
    kind: str
    title: str
    filename: str


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # imported here: loading pango takes ~0.5 s

    html = _templates.get_template(f"{template}.html").render(context)
    # No base_url: a document never fetches anything from outside.
    return HTML(string=html).write_pdf()


def store_document(engine: Engine, *, key: str, build: Callable[[Session], Draft]) -> int:
    """The id of the document of idempotency ``key``, rendered and stored the first time."""
    with engine.db.read() as session:
        found = session.scalar(select(Document.id).where(Document.idempotency_key == key))
        if found is not None:
            return found
        draft = build(session)
    # Rendering takes a while: outside any write transaction.
    pdf = render_pdf(draft.template, {**draft.context, "reference": key[-12:]})
    with engine.transaction() as tx:
        found = tx.session.scalar(select(Document.id).where(Document.idempotency_key == key))
        if found is not None:
            return found
        document = Document(
            idempotency_key=key,
            coop_id=draft.coop_id,
            case_id=draft.case_id,
            kind=draft.kind,
            title=draft.title,
            filename=draft.filename,
            content_type="application/pdf",
            content=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
            size=len(pdf),
            created_at=tx.now,
        )
        tx.session.add(document)
        tx.session.flush()
        return document.id
