"""a search that ignores accents: coopflow_fold and its trigram indexes (PostgreSQL only)

The back-office search folds both the searched text and the words typed with one SQL
function, ``coopflow_fold`` (``workflows/search.py``): « Exupery » finds « Exupéry » and
the other way round. On PostgreSQL it is ``lower(unaccent(…))`` declared ``IMMUTABLE``
(``unaccent`` itself is only ``STABLE``: its dictionary could change, which coopflow
never does), so that expressions using it can be indexed. One trigram index per searched
table (coops, mandataires, emails), on its columns joined by spaces, exactly as
``workflows.search.searched`` writes them (PostgreSQL uses an expression index only for
an identical expression); they replace the ``lower(column)`` indexes of 0005, which no
query uses any more. Replacing the function's body later would need a ``REINDEX``.

Nothing is stored, so nothing is backfilled: the indexes are built from the rows. SQLite
(embedded) registers the same function in Python on every connection and scans.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:00:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: ``(index, table, folded expression)``: ``workflows.search.searched`` of the columns
#: ``admin.queries`` searches.
INDEXES = (
    ("ix_coops_search_trgm", "coops", "name || ' ' || affiliation_number"),
    (
        "ix_mandataires_search_trgm",
        "mandataires",
        "first_name || ' ' || last_name || ' ' || email",
    ),
    # The emails' list (admin.emails): a million rows within a year, scanned until now.
    ("ix_emails_search_trgm", "emails", "to_address || ' ' || subject"),
)
#: The indexes of 0005.
LOWER_INDEXES = (
    ("coops", "name"),
    ("coops", "affiliation_number"),
    ("mandataires", "first_name"),
    ("mandataires", "last_name"),
    ("mandataires", "email"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Trusted since PostgreSQL 13, like pg_trgm (0005): the database's owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    found = "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'unaccent'"
    schema = op.get_bind().exec_driver_sql(found).scalar_one()
    # The dictionary named in full: an IMMUTABLE function must not depend on search_path.
    op.execute(
        "CREATE OR REPLACE FUNCTION coopflow_fold(text) RETURNS text"
        " LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE"
        f" AS $$ SELECT lower({schema}.unaccent('{schema}.unaccent'::regdictionary, $1)) $$"
    )
    for name, table, expression in INDEXES:
        op.execute(
            f"CREATE INDEX {name} ON {table} USING gin (coopflow_fold({expression}) gin_trgm_ops)"
        )
    for table, column in LOWER_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_trgm")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in LOWER_INDEXES:
        op.execute(
            f"CREATE INDEX ix_{table}_{column}_trgm ON {table} "
            f"USING gin (lower({column}) gin_trgm_ops)"
        )
    for name, _table, _expression in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP FUNCTION IF EXISTS coopflow_fold(text)")
