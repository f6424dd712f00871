"""The coop's bank side: what a provider knows a case by, the RIBs mandataires submit,
and the Swan sandbox's own world (the simulated bank of the embedded mode and tests)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.models.base import Base, JSONData, utcnow


class ProviderResource(Base):
    """A provider's resource (a Swan account membership, a card…) and the case it belongs
    to: how a webhook carrying only ``resourceId`` finds its case in one indexed read."""

    __tablename__ = "provider_resources"
    __table_args__ = (
        UniqueConstraint("provider", "resource_id", name="uq_provider_resources_resource"),
        Index("ix_provider_resources_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``swan``.
    provider: Mapped[str] = mapped_column(String(20))
    resource_id: Mapped[str] = mapped_column(String(200))
    #: ``account_membership``, ``identification``, ``trusted_beneficiary``…
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    coop_id: Mapped[int] = mapped_column(ForeignKey("coops.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankAccount(Base):
    """One RIB a mandataire submitted for the coop (``iban`` process): the typed fields,
    the uploaded file, the checks' verdict and, once certified, the provider's reference.

    The full IBAN is only here: events, emails, logs and exports carry it masked."""

    __tablename__ = "bank_accounts"
    __table_args__ = (Index("ix_bank_accounts_coop", "coop_id", "submitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coops.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    #: Compact form (``FR7630006000011234567890189``), as schwifty gives it.
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str] = mapped_column(String(11))
    holder: Mapped[str] = mapped_column(String(140))
    rib_date: Mapped[date] = mapped_column(Date)
    #: The uploaded RIB (``documents``, kind ``rib``).
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), default=None)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by: Mapped[str] = mapped_column(String(200))
    #: ``submitted``, ``rejected``, ``needs_review``, ``verified``, ``certified``,
    #: ``replaced`` (a newer RIB took its place).
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    #: The checks' French messages, by field (``{"iban": ["…"], …}``).
    errors: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    #: Why a person must look (``["Titulaire non reconnu : …"]``) and the review's result.
    review: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    #: The provider's reference once certified (Swan's trusted beneficiary id).
    provider_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    certified_at: Mapped[datetime | None] = mapped_column(default=None)


class SandboxObject(Base):
    """An object of the simulated Swan (``workers/providers/swan/sandbox.py``): an account
    membership, an identification, a trusted beneficiary… kept in the database so the
    web process (its identification page) and every worker see the same bank."""

    __tablename__ = "swan_sandbox_objects"
    __table_args__ = (Index("ix_swan_sandbox_objects_parent", "parent_id", "kind"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    parent_id: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    #: Free text of the simulated bank (a refusal's explanation).
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
