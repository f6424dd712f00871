"""the bank side: provider_resources (a provider's resource → its case), bank_accounts
(the RIBs submitted), swan_sandbox_objects (the simulated Swan)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "provider_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("coop_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_provider_resources_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["coop_id"], ["coops.id"], name=op.f("fk_provider_resources_coop_id_coops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_resources")),
        sa.UniqueConstraint("provider", "resource_id", name="uq_provider_resources_resource"),
    )
    op.create_index("ix_provider_resources_case", "provider_resources", ["case_id"])
    op.create_table(
        "bank_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coop_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=False),
        sa.Column("holder", sa.String(length=140), nullable=False),
        sa.Column("rib_date", sa.Date(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("errors", JSON, nullable=False),
        sa.Column("review", JSON, nullable=False),
        sa.Column("provider_ref", sa.String(length=200), nullable=True),
        sa.Column("certified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_bank_accounts_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["coop_id"], ["coops.id"], name=op.f("fk_bank_accounts_coop_id_coops")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_bank_accounts_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_accounts")),
    )
    op.create_index("ix_bank_accounts_coop", "bank_accounts", ["coop_id", "submitted_at"])
    op.create_table(
        "swan_sandbox_objects",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_swan_sandbox_objects")),
    )
    op.create_index(
        "ix_swan_sandbox_objects_parent", "swan_sandbox_objects", ["parent_id", "kind"]
    )


def downgrade() -> None:
    op.drop_index("ix_swan_sandbox_objects_parent", table_name="swan_sandbox_objects")
    op.drop_table("swan_sandbox_objects")
    op.drop_index("ix_bank_accounts_coop", table_name="bank_accounts")
    op.drop_table("bank_accounts")
    op.drop_index("ix_provider_resources_case", table_name="provider_resources")
    op.drop_table("provider_resources")
