"""Who: the ADs, their cooperatives and mandataires, and OCCE staff."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.models.base import Base, utcnow


class StaffRole(enum.StrEnum):
    NATIONAL = "national"
    AD = "ad"
    READONLY = "readonly"


class OfficerRole(enum.StrEnum):
    """An AD's officer, beside the staff role: only they review emergency advances
    (seed 002: « à l'attention du Président »; its « vice-président délégué finances »)."""

    PRESIDENT = "president"
    TREASURER = "treasurer"


OFFICER_LABELS = {
    OfficerRole.PRESIDENT.value: "Président",
    OfficerRole.TREASURER.value: "Trésorier",
}


class AD(Base):
    """An association départementale (AD06, AD35, AD50...) and its own settings."""

    __tablename__ = "ads"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    #: The academies' domains a mandataire's login email must belong to.
    academic_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    invitation_validity_days: Mapped[int] = mapped_column(Integer, default=7)
    password_min_length: Mapped[int] = mapped_column(Integer, default=8)
    #: The yearly affiliation's deadline (30 September by default), in Paris.
    affiliation_deadline_month: Mapped[int] = mapped_column(Integer, default=9, server_default="9")
    affiliation_deadline_day: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    #: How far the balance La Banque Postale transfers may differ from the declared one
    #: before the case is stuck (cents).
    transfer_tolerance_cents: Mapped[int] = mapped_column(
        Integer, default=100, server_default="100"
    )
    #: The most an emergency advance may be (cents), and the days to repay it after
    #: its disbursement before it is overdue.
    advance_cap_cents: Mapped[int] = mapped_column(Integer, default=300000, server_default="300000")
    advance_repayment_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __str__(self) -> str:
        return self.code


class Coop(Base):
    """A coopérative scolaire, keyed by its AD and affiliation number."""

    __tablename__ = "coops"
    __table_args__ = (
        UniqueConstraint("ad_id", "affiliation_number", name="uq_coops_ad_affiliation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ad_id: Mapped[int] = mapped_column(ForeignKey("ads.id"), index=True)
    affiliation_number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    school_name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(300), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    school_email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    ad: Mapped[AD] = relationship(lazy="joined")
    mandataires: Mapped[list[Mandataire]] = relationship(back_populates="coop")

    def __str__(self) -> str:
        return f"{self.name} ({self.affiliation_number})"


class Mandataire(Base):
    """The teacher who runs a coop and logs in to the portal with their academic email."""

    __tablename__ = "mandataires"
    #: One account per address whatever its case (``Jean.Dupont@`` is ``jean.dupont@``).
    __table_args__ = (Index("uq_mandataires_email_lower", func.lower("email"), unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coops.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    password_set_at: Mapped[datetime | None] = mapped_column(default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Set when staff cancel their invitation: the account no longer logs in.
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Raised to end every session of the account (cancellation, new password): a
    #: session remembers the number it was opened with.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    coop: Mapped[Coop] = relationship(back_populates="mandataires", lazy="joined")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"


class StaffUser(Base):
    """An OCCE staff member using the back-office."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default=StaffRole.AD.value)
    ad_id: Mapped[int | None] = mapped_column(ForeignKey("ads.id"), default=None)
    #: ``president`` or ``treasurer`` of their AD (:class:`OfficerRole`), else ``None``.
    officer_role: Mapped[str | None] = mapped_column(String(20), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Raised when the password changes: every session opened before it ends.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    ad: Mapped[AD | None] = relationship(lazy="joined")

    def __str__(self) -> str:
        return self.full_name
