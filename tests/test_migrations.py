"""The migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from workflows.models import Base

#: PostgreSQL's trigram indexes of the back-office search (migration 0009, on the folded
#: text of ``workflows.search``): expression indexes with an operator class, which the
#: models cannot declare for both backends.
SEARCH_INDEXES = {"ix_coops_search_trgm", "ix_mandataires_search_trgm", "ix_emails_search_trgm"}


def _not_search_index(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
    return not (type_ == "index" and name in SEARCH_INDEXES)


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": _not_search_index}
        )
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], "a model change has no migration: " + repr(diff)


def test_postgresql_has_the_search_indexes(database_url: str) -> None:
    engine = create_engine(database_url)
    found = {
        index["name"]
        for table in ("coops", "mandataires", "emails")
        for index in inspect(engine).get_indexes(table)
    }
    engine.dispose()
    if engine.dialect.name == "postgresql":
        assert found >= SEARCH_INDEXES
    else:
        assert not found & SEARCH_INDEXES  # SQLite: none, the search scans
