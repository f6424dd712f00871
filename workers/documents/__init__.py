"""Documents people keep: HTML templates rendered to PDF by WeasyPrint, stored once.

A step renders its document under its own idempotency key: run twice (a redelivery, a
retry after a crash), it stores one document. :func:`store_documents` does it for many
documents at once (a batch handler's steps): those already stored are not rendered
again, the others are rendered together (:mod:`workers.documents.batch`) and stored in
one transaction. A document whose shape was laid out before is its shape's skeleton
with its own lines drawn in (:mod:`workers.documents.lines`, about a millisecond); the
shapes met for the first time are laid out in one WeasyPrint pass for up to fifty of
them, split into one PDF each.

Two kinds of templates under ``workers/templates/documents/``: a *section* template
(it extends ``_section.html``: the affiliation's) renders a ``<section>`` that joins a
pass with others; a full HTML document (``space_check/space_summary.html``) is rendered
alone by :func:`render_pdf`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jinja2 import select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from workers.documents.batch import Section, render_sections
from workers.documents.lines import Lines, filled
from workers.documents.stamps import Stamps
from workers.templating import environment
from workflows.engine.engine import Engine
from workflows.formatting import euros
from workflows.models import Document
from workflows.verification_codes import new_verification_code

__all__ = ["Draft", "new_verification_code", "render_pdf", "store_document", "store_documents"]

#: Block tags leave no blank lines behind: a pass parses the HTML of fifty documents,
#: and its parser's time grows with every text node.
_templates = environment(
    "documents",
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["euros"] = euros
#: Keys looked up per query (an ``IN`` list).
_LOOKUP = 500


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
    #: The code printed on it, that anyone may check at ``/verification``
    #: (:func:`new_verification_code`); the template reads it as ``verification_code``.
    verification_code: str | None = None


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    """One document alone: a full HTML template, or a section template in a pass of its own."""
    return _render([(template, context, template)])[0]


def store_document(
    engine: Engine, *, key: str, build: Callable[[Session], Draft], whole: bool = False
) -> int:
    """The id of the document of idempotency ``key``, rendered and stored the first time."""
    return store_documents(engine, [(key, build)], whole=whole)[0]


def store_documents(
    engine: Engine, wanted: list[tuple[str, Callable[[Session], Draft]]], *, whole: bool = False
) -> list[int]:
    """The id of the document of each idempotency key of ``wanted``, in order; those not
    stored yet are built (``build(session)`` in one read), rendered together outside any
    transaction, and stored in one transaction (a key stored meanwhile by another run is
    kept as that run stored it). With ``whole``, each is laid out whole by WeasyPrint,
    never drawn over a skeleton (B6's baseline)."""
    keys = list(dict.fromkeys(key for key, _ in wanted))
    builders = dict(wanted)
    with engine.db.read() as session:
        found = _stored(session, keys)
        drafts = {key: builders[key](session) for key in keys if key not in found}
    if drafts:
        # Rendering takes a while: outside any write transaction.
        pdfs = _render(
            [
                (d.template, {"reference": key[-12:], **_context(d)}, d.title)
                for key, d in drafts.items()
            ],
            whole=whole,
        )
        with engine.transaction() as tx:
            found.update(_stored(tx.session, list(drafts)))
            added = {
                key: _document(key, draft, pdf, tx.now)
                for (key, draft), pdf in zip(drafts.items(), pdfs, strict=True)
                if key not in found
            }
            tx.session.add_all(added.values())
            tx.session.flush()
            found.update({key: document.id for key, document in added.items()})
    return [found[key] for key, _ in wanted]


def _stored(session: Session, keys: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(keys), _LOOKUP):
        chunk = keys[start : start + _LOOKUP]
        rows = session.execute(
            select(Document.idempotency_key, Document.id).where(Document.idempotency_key.in_(chunk))
        )
        found.update({key: document_id for key, document_id in rows})
    return found


def _context(draft: Draft) -> dict[str, Any]:
    """The draft's context, with its verification code (the one stored is the one printed)."""
    printed = draft.context.get("verification_code")
    if printed and printed != draft.verification_code:
        raise ValueError(
            f"« {draft.title} » : le code imprimé ({printed}) n'est pas celui du document "
            f"({draft.verification_code})"
        )
    return {**draft.context, "verification_code": draft.verification_code}


def _document(key: str, draft: Draft, pdf: bytes, now: Any) -> Document:
    return Document(
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
        verification_code=draft.verification_code,
        created_at=now,
    )


def _render(items: list[tuple[str, dict[str, Any], str]], *, whole: bool = False) -> list[bytes]:
    """The PDF of each (template, context, title): sections in passes, the others alone."""
    stamps = Stamps()
    pdfs: dict[int, bytes] = {}
    sections: list[tuple[int, Section]] = []
    # Unique in the call, and found nowhere else in a section's HTML (its shape's key
    # is its HTML without it).
    nonce = secrets.token_hex(4)
    for n, (template, context, title) in enumerate(items):
        section_id = f"s{n}-{nonce}"
        lines = Lines()
        html = _templates.get_template(f"{template}.html").render(
            context, section_id=section_id, stamp=stamps, line=lines
        )
        if html.lstrip().startswith("<section"):
            sections.append((n, Section(html, title, section_id, tuple(lines.texts))))
        else:
            pdfs[n] = _alone(filled(html, lines.texts))
    for (n, _), pdf in zip(
        sections, render_sections([s for _, s in sections], stamps, whole=whole), strict=True
    ):
        pdfs[n] = pdf
    return [pdfs[n] for n in range(len(items))]


def _alone(html: str) -> bytes:
    from weasyprint import HTML  # imported here: loading pango takes ~0.5 s

    # No base_url: a document never fetches anything from outside.
    return HTML(string=html).write_pdf()
