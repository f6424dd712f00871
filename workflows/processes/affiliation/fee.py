"""The fee of an affiliation, exactly, in integer cents (PROCESSES.md §7)::

    fee = flat fee per coop
        + pupils   × price per pupil
        + teachers × price per teacher (adult)
        + options (insurance, subscriptions) + voluntary participation

Seed 004: 8,00 € + 63 × 1,73 € (108,99 €) + 4 × 4,00 € (16,00 €) + 4,00 € = 136,99 €.
No float anywhere: prices are ``int`` cents from the price list, products and sums of
ints. The fee is frozen into the case at submission (``Fee.to_data``): a price list
changed afterwards never alters it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.formatting import euros
from workflows.models import OPTION_KINDS, PriceItem, PriceKind
from workflows.processes.affiliation.form import AffiliationForm


@dataclass(frozen=True)
class Price:
    code: str
    kind: str
    label: str
    cents: int
    federation_share_cents: int | None = None


@dataclass(frozen=True)
class PriceList:
    """An AD's prices for a school year, in their order."""

    ad_id: int
    school_year: int
    items: tuple[Price, ...]

    @property
    def options(self) -> tuple[Price, ...]:
        return tuple(p for p in self.items if p.kind in OPTION_KINDS)

    def of_kind(self, kind: str) -> tuple[Price, ...]:
        return tuple(p for p in self.items if p.kind == kind)

    @property
    def complete(self) -> bool:
        """A list the fee can be computed from: it has its flat fee, its price per
        pupil and its price per teacher."""
        return all(
            self.of_kind(k) for k in (PriceKind.FLAT, PriceKind.PER_PUPIL, PriceKind.PER_TEACHER)
        )


@dataclass(frozen=True)
class FeeLine:
    """« des élèves (63 x 1,73 €) : 108,99 € »."""

    code: str
    #: A :class:`PriceKind` value, or ``voluntary``.
    kind: str
    label: str
    quantity: int
    unit_cents: int
    amount_cents: int

    @property
    def text(self) -> str:
        if self.kind in (PriceKind.PER_PUPIL, PriceKind.PER_TEACHER):
            return f"{self.label} ({self.quantity} × {euros(self.unit_cents)})"
        return self.label


@dataclass(frozen=True)
class Fee:
    lines: tuple[FeeLine, ...]
    total_cents: int
    #: The federation's share of the total, when the AD records one on every item counted.
    federation_share_cents: int | None

    @property
    def total(self) -> str:
        """« 136,99 € »."""
        return euros(self.total_cents)

    def to_data(self) -> dict[str, Any]:
        return {
            "lines": [asdict(line) for line in self.lines],
            "total_cents": self.total_cents,
            "federation_share_cents": self.federation_share_cents,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Fee:
        return cls(
            tuple(FeeLine(**line) for line in data["lines"]),
            int(data["total_cents"]),
            data.get("federation_share_cents"),
        )


def price_list(session: Session, ad_id: int, school_year: int) -> PriceList:
    """The AD's price list for the year, as it is now (empty when none was loaded)."""
    rows = session.scalars(
        select(PriceItem)
        .where(PriceItem.ad_id == ad_id, PriceItem.school_year == school_year)
        .order_by(PriceItem.position, PriceItem.id)
    ).all()
    return PriceList(
        ad_id,
        school_year,
        tuple(
            Price(r.code, r.kind, r.label, r.price_cents, r.federation_share_cents) for r in rows
        ),
    )


class UnknownOption(ValueError):
    pass


def compute(prices: PriceList, form: AffiliationForm) -> Fee:
    """The fee of ``form`` with ``prices``, exact in cents. An option that is not on
    the list raises :class:`UnknownOption` (a form posted with a forged code)."""
    known = {p.code: p for p in prices.options}
    unknown = [code for code in form.options if code not in known]
    if unknown:
        raise UnknownOption(f"Option inconnue : {', '.join(unknown)}.")
    lines: list[FeeLine] = []
    shares: list[int | None] = []
    for price, quantity in _counted(prices, form):
        lines.append(
            FeeLine(
                price.code, price.kind, price.label, quantity, price.cents, quantity * price.cents
            )
        )
        shares.append(
            None
            if price.federation_share_cents is None
            else quantity * price.federation_share_cents
        )
    for code in form.options:
        price = known[code]
        lines.append(FeeLine(price.code, price.kind, price.label, 1, price.cents, price.cents))
        shares.append(price.federation_share_cents)
    if form.voluntary_cents:
        lines.append(
            FeeLine(
                "voluntary",
                "voluntary",
                "Participation volontaire",
                1,
                form.voluntary_cents,
                form.voluntary_cents,
            )
        )
    total = sum(line.amount_cents for line in lines)
    share = (
        None
        if not shares or any(s is None for s in shares)
        else sum(s for s in shares if s is not None)
    )
    return Fee(tuple(lines), total, share)


def _counted(prices: PriceList, form: AffiliationForm) -> Iterable[tuple[Price, int]]:
    for price in prices.items:
        if price.kind == PriceKind.FLAT:
            yield price, 1
        elif price.kind == PriceKind.PER_PUPIL:
            yield price, form.pupils
        elif price.kind == PriceKind.PER_TEACHER:
            yield price, form.teachers
