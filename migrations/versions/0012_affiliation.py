"""the yearly affiliation: price_items (the ADs' price lists), statement_lines (bank
statements loaded to validate payments), documents.verification_code, and the ADs'
affiliation deadline

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 15:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "price_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ad_id", sa.Integer(), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("federation_share_cents", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["ad_id"], ["ads.id"], name=op.f("fk_price_items_ad_id_ads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_items")),
        sa.UniqueConstraint("ad_id", "school_year", "code", name="uq_price_items_item"),
    )
    op.create_index("ix_price_items_list", "price_items", ["ad_id", "school_year", "position"])
    op.create_table(
        "statement_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ad_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["ad_id"], ["ads.id"], name=op.f("fk_statement_lines_ad_id_ads")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_statement_lines_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_lines")),
        sa.UniqueConstraint("fingerprint", name="uq_statement_lines_fingerprint"),
    )
    op.create_index("ix_statement_lines_case", "statement_lines", ["case_id"])
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("verification_code", sa.String(length=20), nullable=True))
        batch.create_index("uq_documents_verification_code", ["verification_code"], unique=True)
    with op.batch_alter_table("ads") as batch:
        batch.add_column(
            sa.Column(
                "affiliation_deadline_month", sa.Integer(), nullable=False, server_default="9"
            )
        )
        batch.add_column(
            sa.Column(
                "affiliation_deadline_day", sa.Integer(), nullable=False, server_default="30"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("ads") as batch:
        batch.drop_column("affiliation_deadline_day")
        batch.drop_column("affiliation_deadline_month")
    with op.batch_alter_table("documents") as batch:
        batch.drop_index("uq_documents_verification_code")
        batch.drop_column("verification_code")
    op.drop_index("ix_statement_lines_case", table_name="statement_lines")
    op.drop_table("statement_lines")
    op.drop_index("ix_price_items_list", table_name="price_items")
    op.drop_table("price_items")
