"""Running the Alembic migrations from code (``coopflow db upgrade``, tests, ``make run``)."""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config

from coopflow.config import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        rev = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    return rev


@cache
def alembic_head() -> str | None:
    """The head revision of the migrations shipped with this code (read once)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
