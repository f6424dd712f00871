"""« Documents »: the PDFs kept for the coop (récapitulatifs, attestations…), newest
first, each downloadable by that coop's mandataire only."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from web.auth import mandataire_required
from web.runtime import runtime
from workflows.models import Document
from workflows.processes.space_check.coop_details import LOGO_KIND

bp = Blueprint("documents", __name__)


@bp.app_template_filter("file_size")
def file_size(size: int) -> str:
    """``842 octets``, ``12 Ko``, ``1,4 Mo``."""
    if size < 1024:
        return f"{size} octets"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} Ko"
    return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")


@bp.get("/mon-espace/documents")
@mandataire_required
def index():  # type: ignore[no-untyped-def]
    with runtime().db.read() as session:
        documents = session.scalars(
            select(Document)
            .where(Document.coop_id == current_user.coop_id, Document.kind != LOGO_KIND)
            .options(defer(Document.content))
            .order_by(Document.created_at.desc(), Document.id.desc())
        ).all()
        return render_template("portal/documents.html", documents=documents)


def kept_document(session: Session, coop_id: int, document_id: int) -> Document | None:
    """A document the coop keeps (not its logo), or ``None`` if it is another coop's."""
    return session.scalars(
        select(Document).where(
            Document.id == document_id,
            Document.coop_id == coop_id,
            Document.kind != LOGO_KIND,
        )
    ).one_or_none()


def attachment(document: Document) -> Response:
    """The document as a download, never cached nor sniffed (portal and back-office)."""
    response = Response(document.content, mimetype=document.content_type)
    response.headers.set("Content-Disposition", "attachment", filename=document.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/mon-espace/documents/<int:document_id>")
@mandataire_required
def download(document_id: int):  # type: ignore[no-untyped-def]
    """Another coop's document is « not found », exactly like one that does not exist."""
    with runtime().db.read() as session:
        document = kept_document(session, current_user.coop_id, document_id)
        if document is None:
            abort(404)
        return attachment(document)
