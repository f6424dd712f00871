"""The demonstration ADs' price lists for the yearly affiliation.

AD06's is seed 004's: forfait 8,00 €, 1,73 € per pupil, 4,00 € per teacher and
« Abonnement à TOTO est content » 4,00 € (3 classes, 63 pupils, 4 teachers and that
subscription: 136,99 €), with the two other options of the seed's form, whose prices
the seed does not give (invented here), and the federation's share recorded on each
item. The other ADs have lists of their own, without the federation's share. Written
through the CSV import's upsert: loading them again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from workflows.models import AD
from workflows.models.base import utcnow
from workflows.processes.affiliation.price_import import (
    ItemValues,
    PriceImportReport,
    PriceRow,
    write_rows,
)

#: (code, type, label) of every list, in its order.
ITEMS = (
    ("forfait", "forfait", "de la coopérative (forfait)"),
    ("eleve", "eleve", "des élèves"),
    ("enseignant", "enseignant", "des enseignants"),
    ("assurance_biens", "assurance", "Assurance des biens de la coopérative"),
    ("abonnement_toto", "abonnement", "Abonnement à TOTO est content"),
    ("abonnement_coopains", "abonnement", "Abonnement « Les Coopains d'accord »"),
)
#: Each AD's prices in cents, in the order of ``ITEMS``; then the federation's shares.
PRICES = {
    "AD06": (800, 173, 400, 1200, 400, 650),
    "AD35": (1000, 160, 350, 1100, 400, 650),
    "AD50": (750, 185, 420, 1250, 400, 650),
}
SHARES = {"AD06": (200, 93, 93, 320, 400, 650)}


def load_demo_prices(
    session: Session, ads: Iterable[AD], school_year: int, *, now: datetime | None = None
) -> PriceImportReport:
    """Give each AD of ``ads`` its demo price list for ``school_year`` (an AD the demo
    does not know gets AD06's prices without the federation's share)."""
    rows: list[PriceRow] = []
    for ad in ads:
        prices = PRICES.get(ad.code, PRICES["AD06"])
        shares = SHARES.get(ad.code, (None,) * len(ITEMS))
        for position, ((code, kind, label), cents, share) in enumerate(
            zip(ITEMS, prices, shares, strict=True), start=1
        ):
            item = ItemValues(code, kind, label, cents, share, position)
            rows.append(PriceRow(position, ad.id, ad.code, school_year, item))
    report = PriceImportReport()
    write_rows(session, rows, report, by="démonstration", now=now or utcnow())
    return report
