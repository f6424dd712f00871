"""Documents people sign and keep (rendered PDFs, uploaded logos)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.models.base import Base, utcnow


class Document(Base):
    """A document a person signs or keeps (a PDF rendered by a step), served to the
    coop's mandataire and to staff of its AD."""

    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_coop", "coop_id", "created_at"),
        Index("uq_documents_verification_code", "verification_code", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The step that rendered it: a step run twice stores one document.
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coops.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100), default="application/pdf")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    #: The code printed on an attestation, that anyone may check at ``/verification``
    #: (``7KQ4-M2XD-9PLA``); ``None`` for documents that carry none.
    verification_code: Mapped[str | None] = mapped_column(String(20), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
