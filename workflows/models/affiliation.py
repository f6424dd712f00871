"""The yearly affiliation's tables: the ADs' price lists and the lines of the bank
statements staff load to validate payments (``affiliation`` process, PROCESSES.md §7).

What a coop declared, its frozen fee and the staff's three checks live in its case's
``data`` (:mod:`workflows.processes.affiliation.form`): a price list changed after a
submission never alters it."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.models.base import Base, utcnow


class PriceKind(enum.StrEnum):
    """How an item of a price list counts in the fee (its French name in the CSV)."""

    FLAT = "forfait"  # once per coop
    PER_PUPIL = "eleve"  # × the pupils declared
    PER_TEACHER = "enseignant"  # × the teachers (adults) declared
    INSURANCE = "assurance"  # an option the mandataire ticks
    SUBSCRIPTION = "abonnement"  # an option the mandataire ticks


#: The kinds the mandataire chooses (the others always count).
OPTION_KINDS = frozenset({PriceKind.INSURANCE.value, PriceKind.SUBSCRIPTION.value})


class PriceItem(Base):
    """One line of an AD's price list for a school year: the flat fee, the price per
    pupil, per teacher, or an option, in cents, with the federation's share where the
    AD records it."""

    __tablename__ = "price_items"
    __table_args__ = (
        UniqueConstraint("ad_id", "school_year", "code", name="uq_price_items_item"),
        Index("ix_price_items_list", "ad_id", "school_year", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ad_id: Mapped[int] = mapped_column(ForeignKey("ads.id"))
    #: The year the school year starts in (2026 for 2026-2027).
    school_year: Mapped[int] = mapped_column(Integer)
    #: Stable name of the item within the list (``forfait``, ``abonnement_toto``…).
    code: Mapped[str] = mapped_column(String(40))
    #: A :class:`PriceKind` value.
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(Integer)
    #: The part of the price due to the federation, when the AD records it.
    federation_share_cents: Mapped[int | None] = mapped_column(Integer, default=None)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Who last changed it (a staff member's email, or ``import <file>``).
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class StatementLine(Base):
    """A credit line of a bank statement an AD's staff loaded, and what became of it.

    ``fingerprint`` (the AD, the line's date, amount, label and its rank among identical
    lines of its file) is unique: loading the same statement again finds its lines
    already there and validates nothing twice."""

    __tablename__ = "statement_lines"
    __table_args__ = (
        UniqueConstraint("fingerprint", name="uq_statement_lines_fingerprint"),
        Index("ix_statement_lines_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ad_id: Mapped[int] = mapped_column(ForeignKey("ads.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    booked_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)
    #: The affiliation reference found in the label (``ADH-2026-0610524F``), if any.
    reference: Mapped[str | None] = mapped_column(String(40), default=None)
    #: The affiliation case whose payment it validated.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)
    #: ``matched``, or why not: ``no_reference``, ``unknown_reference``, ``amount``,
    #: ``not_awaiting``, ``already_paid``.
    outcome: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    filename: Mapped[str] = mapped_column(String(200), default="")
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    loaded_by: Mapped[str] = mapped_column(String(200), default="")
