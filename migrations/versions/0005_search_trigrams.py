"""trigram indexes for the back-office search (PostgreSQL only)

The search looks for words anywhere in coop names, affiliation numbers and mandataire
names and emails (``lower(column) LIKE '%word%'``): no B-tree serves that, a trigram GIN
index does. SQLite (the embedded default) has no such index and keeps scanning: its
databases are small.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 09:00:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: ``(table, column)`` searched by ``admin.queries.search_condition``.
SEARCHED = (
    ("coops", "name"),
    ("coops", "affiliation_number"),
    ("mandataires", "first_name"),
    ("mandataires", "last_name"),
    ("mandataires", "email"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Trusted since PostgreSQL 13: the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in SEARCHED:
        op.execute(
            f"CREATE INDEX ix_{table}_{column}_trgm ON {table} "
            f"USING gin (lower({column}) gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in SEARCHED:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_trgm")
