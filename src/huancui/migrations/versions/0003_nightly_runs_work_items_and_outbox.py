"""nightly runs, work items, outbox and experiment assignments

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 20:31:47.915507
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_key", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("planned_date", sa.Date(), nullable=False),
        sa.Column("strategy_version_id", sa.Integer(), nullable=False),
        sa.Column("strategy_label", sa.String(length=48), nullable=False),
        sa.Column("policy_name", sa.String(length=32), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=False),
        sa.Column("model_versions", sa.JSON(), nullable=False),
        sa.Column("snapshot_sha256", sa.String(length=64), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("plan_path", sa.Text(), nullable=False),
        sa.Column("plan_sha256", sa.String(length=64), nullable=False),
        sa.Column("rows_planned", sa.Integer(), nullable=False),
        sa.Column("rows_suppressed", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_version_id"],
            ["strategy_versions.strategy_version_id"],
            name=op.f("fk_plan_runs_strategy_version_id_strategy_versions"),
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_plan_runs")),
    )
    with op.batch_alter_table("plan_runs", schema=None) as batch_op:
        batch_op.create_index("ix_plan_runs_as_of", ["as_of", "is_current"], unique=False)

    op.create_table(
        "experiment_assignments",
        sa.Column("assignment_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("experiment", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("strategy_version_id", sa.Integer(), nullable=False),
        sa.Column("arm", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("first_run_id", sa.Integer(), nullable=False),
        sa.Column("first_as_of", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_run_id"],
            ["plan_runs.run_id"],
            name=op.f("fk_experiment_assignments_first_run_id_plan_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["strategy_version_id"],
            ["strategy_versions.strategy_version_id"],
            name=op.f("fk_experiment_assignments_strategy_version_id_strategy_versions"),
        ),
        sa.PrimaryKeyConstraint("assignment_id", name=op.f("pk_experiment_assignments")),
        sa.UniqueConstraint(
            "experiment",
            "account_id",
            "strategy_version_id",
            name=op.f("uq_experiment_assignments_experiment"),
        ),
    )
    op.create_table(
        "outbox",
        sa.Column("message_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("contact_date", sa.Date(), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("tone", sa.String(length=8), nullable=False),
        sa.Column("experiment", sa.String(length=32), nullable=True),
        sa.Column("arm", sa.String(length=32), nullable=True),
        sa.Column("window_start", sa.String(length=32), nullable=False),
        sa.Column("window_end", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("adapter", sa.String(length=16), nullable=True),
        sa.Column("provider_ref", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["plan_runs.run_id"], name=op.f("fk_outbox_run_id_plan_runs")
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_status", ["status", "contact_date"], unique=False)

    op.create_table(
        "work_items",
        sa.Column("work_item_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("contact_date", sa.Date(), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("tone", sa.String(length=8), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("experiment", sa.String(length=32), nullable=True),
        sa.Column("arm", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.Float(), nullable=True),
        sa.Column("window_start", sa.String(length=32), nullable=False),
        sa.Column("window_end", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("assigned_to", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["plan_runs.run_id"], name=op.f("fk_work_items_run_id_plan_runs")
        ),
        sa.PrimaryKeyConstraint("work_item_id", name=op.f("pk_work_items")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_work_items_idempotency_key")),
    )
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.create_index("ix_work_items_as_of", ["as_of", "status"], unique=False)
        batch_op.create_index(
            "ix_work_items_queue", ["queue", "status", "contact_date"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_items_queue")
        batch_op.drop_index("ix_work_items_as_of")

    op.drop_table("work_items")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status")

    op.drop_table("outbox")
    op.drop_table("experiment_assignments")
    with op.batch_alter_table("plan_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_runs_as_of")

    op.drop_table("plan_runs")
