"""Rows the benchmarks start from, inserted in bulk (core ``INSERT`` with many rows per
statement), from a seeded random generator: the same seed gives the same database."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from workflows.engine.db import Database
from workflows.models import AD, Coop, Mandataire

BATCH = 5_000
NOW = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)
FIRST_NAMES = ("Éloïse", "Mathis", "Inès", "Hugo", "Léa", "Nathan", "Chloé", "Louis", "Zoé")
LAST_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy")


def ensure_ad(db: Database, code: str = "AD06", domain: str = "ac-nice.fr") -> int:
    with db.write() as session:
        found = session.scalar(select(AD.id).where(AD.code == code))
        if found is not None:
            return int(found)
        ad = AD(
            code=code,
            name=f"OCCE {code[2:]}",
            email=f"{code.lower()}@occe.coop",
            academic_domains=[domain],
            created_at=NOW,
        )
        session.add(ad)
        session.flush()
        return ad.id


def seed_coops(
    db: Database, count: int, *, seed: int, ad_code: str = "AD06", domain: str = "ac-nice.fr"
) -> list[int]:
    """``count`` coops of the AD, each with its mandataire; their ids, in order."""
    ad_id = ensure_ad(db, ad_code, domain)
    rng = random.Random(seed)
    with db.write() as session:
        start = (session.scalar(select(func.max(Coop.id))) or 0) + 1
    ids = list(range(start, start + count))
    for chunk in range(0, count, BATCH):
        part = ids[chunk : chunk + BATCH]
        coops = [
            {
                "id": i,
                "ad_id": ad_id,
                "affiliation_number": f"{ad_code[2:]}{i:06d}",
                "name": f"Coopérative de l'école {i}",
                "school_name": f"École élémentaire {rng.choice(LAST_NAMES)} {i}",
                "street": f"{rng.randint(1, 200)} rue de la République",
                "postal_code": f"06{rng.randint(0, 999):03d}",
                "city": "Nice",
                "school_email": f"ce.{ad_code[2:].lower()}{i:06d}@{domain}",
                "phone": "",
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i in part
        ]
        mandataires = [
            {
                "coop_id": i,
                "first_name": rng.choice(FIRST_NAMES),
                "last_name": rng.choice(LAST_NAMES),
                "email": f"mandataire.{i:07d}@{domain}",
                "created_at": NOW,
            }
            for i in part
        ]
        with db.write() as session:
            session.execute(insert(Coop), coops)
            session.execute(insert(Mandataire), mandataires)
    if db.engine.dialect.name == "postgresql":
        with db.write() as session:
            session.execute(select(func.setval("coops_id_seq", ids[-1] if ids else start)))
    return ids
