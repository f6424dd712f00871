"""Accounts' sessions: a session epoch on mandataires and staff, a mandataire's
cancellation, and a mandataire's email unique whatever its case

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("mandataires", "staff_users"):
        op.add_column(
            table,
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"),
        )
    op.add_column(
        "mandataires", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True)
    )
    duplicates = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT lower(email) FROM mandataires GROUP BY lower(email) HAVING count(*) > 1"
            )
        )
        .scalars()
        .all()
    )
    if duplicates:  # the index cannot be built: say which, rather than an SQL error
        raise RuntimeError(
            "Des mandataires partagent une adresse à la casse près : "
            + ", ".join(sorted(duplicates)[:20])
            + ". Corrigez-les avant la migration (une seule personne par adresse)."
        )
    op.create_index(
        "uq_mandataires_email_lower",
        "mandataires",
        [sa.text("lower(email)")],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_mandataires_email_lower", table_name="mandataires")
    with op.batch_alter_table("mandataires") as batch:
        batch.drop_column("cancelled_at")
        batch.drop_column("session_version")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("session_version")
