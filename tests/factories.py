"""factory_boy factories for the rows tests need; bound to a session by ``conftest``."""

from __future__ import annotations

from functools import cache

import factory
from factory.alchemy import SQLAlchemyModelFactory

from workflows.models import AD, Coop, Mandataire, StaffRole, StaffUser
from workflows.password_hashing import hash_password

STAFF_PASSWORD = "Bureau*2026!occe"


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session = None
        sqlalchemy_session_persistence = "commit"


class ADFactory(_Base):
    class Meta:
        model = AD
        sqlalchemy_get_or_create = ("code",)

    code = "AD06"
    name = factory.LazyAttribute(lambda o: f"OCCE {o.code[2:]}")
    email = factory.LazyAttribute(lambda o: f"{o.code.lower()}@occe.coop")
    academic_domains = factory.LazyFunction(lambda: ["ac-nice.fr"])
    invitation_validity_days = 7
    password_min_length = 8


class CoopFactory(_Base):
    class Meta:
        model = Coop

    ad = factory.SubFactory(ADFactory)
    affiliation_number = factory.Sequence(lambda n: f"06{n:05d}A")
    name = factory.Sequence(lambda n: f"Coopérative de l'école {n}")
    school_name = factory.Sequence(lambda n: f"École élémentaire Jules-Ferry {n}")
    street = "12 rue de la République"
    postal_code = "06000"
    city = "Nice"
    school_email = factory.Sequence(lambda n: f"ce.06{n:05d}a@ac-nice.fr")


class MandataireFactory(_Base):
    class Meta:
        model = Mandataire

    coop = factory.SubFactory(CoopFactory)
    first_name = "Éloïse"
    last_name = "Martin"
    email = factory.Sequence(lambda n: f"eloise.martin{n}@ac-nice.fr")


@cache
def staff_password_hash() -> str:
    """:data:`STAFF_PASSWORD` hashed once for every staff member the tests make: argon2
    at its production cost takes 0.14 s here, and hundreds of tests make staff."""
    return hash_password(STAFF_PASSWORD)


class StaffFactory(_Base):
    class Meta:
        model = StaffUser

    email = factory.Sequence(lambda n: f"agent{n}@occe.coop")
    full_name = "Claire Agent"
    password_hash = factory.LazyFunction(lambda: staff_password_hash())
    role = StaffRole.AD.value
    ad = factory.SubFactory(ADFactory)


FACTORIES = (ADFactory, CoopFactory, MandataireFactory, StaffFactory)
