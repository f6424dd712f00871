"""the Banque Postale transfer and the emergency advance: the ADs' tolerance on the
transferred balance, cap and repayment delay of an advance; the officer role (president
or treasurer) of the staff who review advances

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 18:15:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ads") as batch:
        batch.add_column(
            sa.Column(
                "transfer_tolerance_cents", sa.Integer(), nullable=False, server_default="100"
            )
        )
        batch.add_column(
            sa.Column("advance_cap_cents", sa.Integer(), nullable=False, server_default="300000")
        )
        batch.add_column(
            sa.Column(
                "advance_repayment_days", sa.Integer(), nullable=False, server_default="90"
            )
        )
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("officer_role", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("officer_role")
    with op.batch_alter_table("ads") as batch:
        batch.drop_column("advance_repayment_days")
        batch.drop_column("advance_cap_cents")
        batch.drop_column("transfer_tolerance_cents")
