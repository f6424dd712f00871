"""back-office: cases.ad_id and list indexes, staff tasks, bulk actions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STUCK_ONLY = sa.text("stuck_since IS NOT NULL")


def upgrade() -> None:
    # cases.ad_id: added empty, filled from the coops, then required.
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("ad_id", sa.Integer(), nullable=True))
    op.execute("UPDATE cases SET ad_id = (SELECT coops.ad_id FROM coops WHERE coops.id = cases.coop_id)")
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("ad_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(op.f("fk_cases_ad_id_ads"), "ads", ["ad_id"], ["id"])
    op.create_index("ix_cases_ad_process_state", "cases", ["ad_id", "process", "state"])
    op.create_index(
        "ix_cases_ad_stuck_since",
        "cases",
        ["ad_id", "stuck_since", "id"],
        postgresql_where=STUCK_ONLY,
        sqlite_where=STUCK_ONLY,
    )
    op.create_index(
        "ix_cases_stuck_since",
        "cases",
        ["stuck_since", "id"],
        postgresql_where=STUCK_ONLY,
        sqlite_where=STUCK_ONLY,
    )
    op.create_index("ix_cases_assignee", "cases", ["assignee_id"])

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("ad_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["ad_id"], ["ads.id"], name=op.f("fk_tasks_ad_id_ads")),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["staff_users.id"], name=op.f("fk_tasks_assignee_id_staff_users")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_tasks_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index("ix_tasks_ad_status_due", "tasks", ["ad_id", "status", "due_at"])
    op.create_index("ix_tasks_case", "tasks", ["case_id"])
    op.create_index("ix_tasks_status_due", "tasks", ["status", "due_at"])

    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("params", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_bulk_jobs_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_jobs")),
    )
    op.create_table(
        "bulk_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("selected_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_bulk_items_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["bulk_jobs.id"], name=op.f("fk_bulk_items_job_id_bulk_jobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_items")),
        sa.UniqueConstraint("job_id", "case_id", name="uq_bulk_items_job_case"),
    )
    op.create_index("ix_bulk_items_job_status", "bulk_items", ["job_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_bulk_items_job_status", table_name="bulk_items")
    op.drop_table("bulk_items")
    op.drop_table("bulk_jobs")
    op.drop_index("ix_tasks_status_due", table_name="tasks")
    op.drop_index("ix_tasks_case", table_name="tasks")
    op.drop_index("ix_tasks_ad_status_due", table_name="tasks")
    op.drop_table("tasks")
    op.drop_index("ix_cases_assignee", table_name="cases")
    op.drop_index("ix_cases_stuck_since", table_name="cases")
    op.drop_index("ix_cases_ad_stuck_since", table_name="cases")
    op.drop_index("ix_cases_ad_process_state", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint(op.f("fk_cases_ad_id_ads"), type_="foreignkey")
        batch.drop_column("ad_id")
