"""B6's rows: AD06's coops whose mandataire has an account, seed 004's price list, a
staff member, each coop's classes drawn from a seeded generator; for the direct driver,
the affiliation cases as their validation leaves them, inserted in bulk. And the check
of what the wave stored."""

from __future__ import annotations

import random

from sqlalchemy import func, insert, select, update

from bench.seed import NOW, ensure_ad, seed_coops
from workflows.engine.db import Database
from workflows.models import Case, Coop, Document, Mandataire, PriceItem, StaffUser
from workflows.processes.affiliation.fee import compute, price_list
from workflows.processes.affiliation.form import AffiliationForm, SchoolClass, payment_reference

YEAR = 2026
LEVELS = ("CP", "CE1", "CE2", "CM1", "CM2", "GS", "MS", "ULIS")
TEACHERS = ("Mme Martin", "M. Bernard", "Mme Dubois - M. Petit", "Mme Leroy", "M. Durand")
#: Seed 004's price list (the fee of its example is 136,99 €).
PRICES = (
    ("forfait", "forfait", "de la coopérative (forfait)", 800),
    ("eleve", "eleve", "des élèves", 173),
    ("enseignant", "enseignant", "des enseignants", 400),
    ("assurance_biens", "assurance", "Assurance des biens de la coopérative", 1250),
    ("abonnement_toto", "abonnement", "Abonnement à TOTO est content", 400),
)
KINDS = ("commitment", "attestation_adhesion", "attestation_assurance")


def classes_form(rng: random.Random) -> AffiliationForm:
    classes = [
        SchoolClass(level, rng.choice(TEACHERS), rng.randint(1, 2), rng.randint(12, 28))
        for level in rng.sample(LEVELS, rng.randint(2, 7))
    ]
    options = ["abonnement_toto"] + (["assurance_biens"] if rng.random() < 0.3 else [])
    return AffiliationForm(classes=classes, options=options)


def coops_and_prices(db: Database, count: int, seed: int) -> tuple[list[int], int]:
    """``count`` coops of AD06 whose mandataire has an account, the AD's price list for
    the year, and a staff member of the AD (its id)."""
    coop_ids = seed_coops(db, count, seed=seed)
    ad_id = ensure_ad(db)
    with db.write() as session:
        session.execute(
            update(Mandataire)
            .where(Mandataire.coop_id.in_(coop_ids))
            .values(password_hash="argon2-bench", password_set_at=NOW)
        )
        session.execute(
            insert(PriceItem),
            [
                {
                    "ad_id": ad_id,
                    "school_year": YEAR,
                    "code": code,
                    "kind": kind,
                    "label": label,
                    "price_cents": cents,
                    "position": n,
                }
                for n, (code, kind, label, cents) in enumerate(PRICES)
            ],
        )
        staff = StaffUser(
            email="equipe06@bench.occe.coop",
            full_name="Équipe OCCE 06",
            role="ad",
            ad_id=ad_id,
            password_hash="argon2-bench",
        )
        session.add(staff)
        session.flush()
        return coop_ids, staff.id


def validated_cases(db: Database, coop_ids: list[int], seed: int) -> None:
    """Each coop's affiliation, as its validation leaves it (inserted in bulk)."""
    rng = random.Random(seed)
    ad_id = ensure_ad(db)
    with db.read() as session:
        prices = price_list(session, ad_id, YEAR)
        numbers = dict(session.execute(select(Coop.id, Coop.affiliation_number)).tuples().all())
        names = {
            m.coop_id: m.full_name
            for m in session.scalars(select(Mandataire).where(Mandataire.coop_id.in_(coop_ids)))
        }
    rows = []
    for coop_id in coop_ids:
        form = classes_form(rng)
        fee = compute(prices, form)
        reference = payment_reference(YEAR, numbers[coop_id])
        rows.append(
            {
                "process": "affiliation",
                "school_year": YEAR,
                "coop_id": coop_id,
                "ad_id": ad_id,
                "state": "validated",
                "data": {
                    "form": form.to_data(),
                    "fee": fee.to_data(),
                    "reference": reference,
                    "mandataire_name": names[coop_id],
                    "checks": {
                        "payment": {
                            "amount_cents": fee.total_cents,
                            "received_on": "2026-09-18",
                            "reference": reference,
                        }
                    },
                },
                "created_at": NOW,
                "updated_at": NOW,
                "state_entered_at": NOW,
            }
        )
    for start in range(0, len(rows), 2000):
        with db.write() as session:
            session.execute(insert(Case), rows[start : start + 2000])


def stored(db: Database) -> int:
    """The affiliation documents stored so far."""
    with db.read() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Document).where(Document.kind.in_(KINDS))
            )
            or 0
        )


def check_documents(db: Database, expected: int) -> None:
    """Every document stored once, a PDF whose hash is its own."""
    with db.read() as session:
        count, distinct, small = session.execute(
            select(
                func.count(),
                func.count(func.distinct(Document.sha256)),
                func.min(Document.size),
            ).where(Document.kind.in_(KINDS))
        ).one()
        head = session.scalar(
            select(func.substr(Document.content, 1, 5)).where(Document.kind.in_(KINDS)).limit(1)
        )
    assert count == expected, (count, expected)
    assert distinct == expected, f"{expected - distinct} documents identiques"
    assert head == b"%PDF-" and small > 1000, (head, small)
